#!/usr/bin/env bash
# Run the whole system locally: BigQuery emulator, the local object stores (S3 + STS server
# (moto), Cloud Storage emulator; Azurite when Node.js is installed), web server, Celery worker
# and beat.
# Ctrl-C (or a SIGTERM to this script or to make) stops them all. State lives in var/ (and the
# KMS keyring outside the repo). Logs in var/log/ are appended to, and rotated at start.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-convergence.settings.local}
export PORT=${PORT:-8000}
mkdir -p var/log var/imports var/mail

LOG_ROTATE_BYTES=$((10 * 1024 * 1024))
LOG_KEEP=3

say() { echo "[make run] $*"; }
fail() { echo "[make run] $*" >&2; exit 1; }

# Rotate a log past 10 MB: x.log → x.log.1 → … → x.log.3 (the oldest dropped).
rotate_log() {
  local log=$1
  [ -f "$log" ] && [ "$(stat -c %s "$log")" -gt "$LOG_ROTATE_BYTES" ] || return 0
  for ((i = LOG_KEEP - 1; i >= 1; i--)); do
    [ -f "$log.$i" ] && mv -f "$log.$i" "$log.$((i + 1))"
  done
  mv -f "$log" "$log.1"
}

# Who listens on a TCP port: "pid 123 (python)", or "" if nothing does.
port_owner() {
  local port=$1 line
  if ! python - "$port" <<'PY'
import socket, sys
with socket.socket() as s:
    sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
PY
  then
    return 0
  fi
  line=$(ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'users:(([^)]*))' | head -1 || true)
  echo "${line:-an unknown process}"
}

port_check() {
  local port=$1 what=$2 hint=$3 owner
  owner=$(port_owner "$port")
  if [ -n "$owner" ]; then
    fail "Port $port ($what) is busy, held by $owner. Stop that process, or $hint."
  fi
}

read -r endpoint gcs_endpoint azure_endpoint s3_endpoint < <(python -c 'import django; django.setup(); from django.conf import settings as s; print(s.WAREHOUSE_ENDPOINT or "-", s.STORAGE_ENDPOINT or "-", s.AZURE_BLOB_ENDPOINT or "-", s.S3_ENDPOINT_URL or "-")')
# The port of a local endpoint (http://127.0.0.1:P or http://localhost:P), or "".
local_port() {
  local port=""
  case "$1" in
    http://127.0.0.1:*|http://localhost:*) port=${1##*:}; port=${port%%/*} ;;
  esac
  echo "$port"
}
emulator_port=$(local_port "$endpoint")
gcs_port=$(local_port "$gcs_endpoint")
azurite_port=$(local_port "$azure_endpoint")
if [ -n "$azurite_port" ]; then
  if ! command -v node >/dev/null 2>&1; then
    say "Azure Blob connector off: Node.js is not installed, so Azurite cannot run (install Node.js 18+, then npm ci)."
    azurite_port=""
  elif [ ! -x node_modules/.bin/azurite-blob ]; then
    say "Azure Blob connector off: Azurite is not installed (run: npm ci)."
    azurite_port=""
  fi
fi
s3_port=$(local_port "$s3_endpoint")
port_check "$PORT" "web server" "start on another one: PORT=$((PORT + 1)) make run"
if [ -n "$emulator_port" ]; then
  port_check "$emulator_port" "BigQuery emulator at $endpoint; locally PORT + 1050" \
    "set WAREHOUSE_ENDPOINT=http://127.0.0.1:<free port>"
fi
if [ -n "$gcs_port" ]; then
  port_check "$gcs_port" "Cloud Storage emulator at $gcs_endpoint; locally PORT + 1051" \
    "set STORAGE_ENDPOINT=http://127.0.0.1:<free port>"
fi
if [ -n "$azurite_port" ]; then
  port_check "$azurite_port" "Azurite at $azure_endpoint; locally PORT + 1052" \
    "set AZURE_BLOB_ENDPOINT=http://127.0.0.1:<free port>"
fi

if [ -n "$s3_port" ]; then
  port_check "$s3_port" "S3 + STS server at $s3_endpoint; locally PORT + 1060" \
    "set S3_ENDPOINT_URL=http://127.0.0.1:<free port>"
fi

for log in bqemulator s3 gcs azurite worker beat web; do rotate_log "var/log/$log.log"; done

declare -A names logs
pids=()
stopping=0
STOP_GRACE=${STOP_GRACE:-10}
# running PID: alive and not a zombie waiting to be reaped.
running() { local state; state=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $state != Z* ]]; }
any_running() {
  local pid
  for pid in "${pids[@]}"; do running "$pid" && return 0; done
  return 1
}
stop_all() {
  # Further signals (make forwards its SIGTERM; Ctrl-C again) must not kill this script half
  # way, or the parts it is stopping are left behind as orphans.
  trap '' INT TERM HUP
  trap - EXIT
  stopping=1
  echo
  say "Stopping..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  # Give each up to STOP_GRACE seconds, then kill it: a Celery worker that got SIGTERM from
  # both the terminal and this script can hang in its warm shutdown and outlive make run.
  local waited=0
  while [ "$waited" -lt $((STOP_GRACE * 2)) ] && any_running; do sleep 0.5; waited=$((waited + 1)); done
  for pid in "${pids[@]}"; do
    if running "$pid"; then
      say "${names[$pid]} (pid $pid) did not stop within ${STOP_GRACE} s; killing it." >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  wait 2>/dev/null || true
  say "Stopped."
  exit "${1:-0}"
}
trap 'stop_all 0' INT TERM HUP
trap 'stop_all $?' EXIT

# Children get SIGTERM from the kernel if this script dies in a way it cannot trap (SIGKILL).
die_with_us=()
if command -v setpriv >/dev/null 2>&1 && setpriv --pdeathsig TERM true 2>/dev/null; then
  die_with_us=(setpriv --pdeathsig TERM)
fi

# start NAME LOG COMMAND...: run in the background, remember its name and log.
start() {
  local name=$1 log=$2
  shift 2
  "${die_with_us[@]}" "$@" >>"$log" 2>&1 &
  pids+=($!)
  names[$!]=$name
  logs[$!]=$log
}

report_stop() {
  local pid=$1 status=$2 how
  if [ "$status" -gt 128 ]; then how="killed by signal $(kill -l $((status - 128)) 2>/dev/null || echo $((status - 128)))"; else how="exit $status"; fi
  echo >&2
  say "!! ${names[$pid]} (pid $pid) stopped ($how). Last lines of ${logs[$pid]}:" >&2
  tail -n 5 "${logs[$pid]}" 2>/dev/null | sed 's/^/    /' >&2 || true
}

if [ -n "$emulator_port" ]; then
  say "Starting the BigQuery emulator on port $emulator_port (data in var/bqemulator; log var/log/bqemulator.log)"
  start "BigQuery emulator" var/log/bqemulator.log python manage.py warehouse_emulator
  emulator_pid=${pids[-1]}
  say "Waiting for the emulator to answer at $endpoint (a first start takes longer)..."
  until python - "$endpoint" <<'PY'
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1] + "/bigquery/v2/projects/p/datasets", timeout=1)
except urllib.error.HTTPError:
    pass
except OSError:
    sys.exit(1)
PY
  do
    if ! kill -0 "$emulator_pid" 2>/dev/null; then
      status=0; wait "$emulator_pid" || status=$?
      report_stop "$emulator_pid" "$status"
      fail "The BigQuery emulator did not start; the reason is above."
    fi
    sleep 0.5
  done
fi

# A local object store: start it and wait for it to answer; without it the rest still runs.
start_store() {
  local name=$1 log=$2 url=$3 pid
  shift 3
  start "$name" "$log" "$@"
  pid=${pids[-1]}
  until python - "$url" <<'PY'
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=1)
except urllib.error.HTTPError:
    pass
except OSError:
    sys.exit(1)
PY
  do
    if ! kill -0 "$pid" 2>/dev/null; then
      local status=0; wait "$pid" || status=$?
      report_stop "$pid" "$status"
      say "$name did not start (reason above); the rest runs without it." >&2
      local rest=() p
      for p in "${pids[@]}"; do [ "$p" = "$pid" ] || rest+=("$p"); done
      pids=("${rest[@]}")
      return 0
    fi
    sleep 0.3
  done
}
if [ -n "$gcs_port" ]; then
  say "Starting the Cloud Storage emulator on port $gcs_port (data in var/gcs; log var/log/gcs.log)"
  start_store "Cloud Storage emulator" var/log/gcs.log "http://127.0.0.1:$gcs_port/storage/v1/b" \
    python manage.py storage_emulator gcs
fi
if [ -n "$azurite_port" ]; then
  say "Starting Azurite (Azure Blob Storage) on port $azurite_port (data in var/azurite; log var/log/azurite.log)"
  start_store "Azurite" var/log/azurite.log "http://127.0.0.1:$azurite_port/devstoreaccount1?comp=list" \
    python manage.py storage_emulator azurite
fi
if [ -n "$s3_port" ]; then
  say "Starting the S3 + STS server (moto) on port $s3_port (in memory; log var/log/s3.log)"
  start_store "S3 server" var/log/s3.log "$s3_endpoint/moto-api/" python manage.py s3_server
fi

say "Migrating the database (var/convergence.sqlite3 unless DATABASE_URL is set)..."
python manage.py migrate --noinput
python manage.py setup_periodic_tasks
python manage.py ensure_local_admin

say "Starting the Celery worker, Celery beat and the web server..."
# The worker's output (runs, and emails as they are sent) shows here and in var/log/worker.log.
"${die_with_us[@]}" celery -A convergence worker --loglevel INFO --concurrency 2 \
  > >(tee -a var/log/worker.log) 2>&1 &
pids+=($!); names[$!]="Celery worker"; logs[$!]=var/log/worker.log
start "Celery beat" var/log/beat.log celery -A convergence beat --loglevel INFO
"${die_with_us[@]}" python manage.py runserver "127.0.0.1:$PORT" --noreload \
  > >(tee -a var/log/web.log) 2>&1 &
pids+=($!); names[$!]="web server"; logs[$!]=var/log/web.log

# When make itself is killed, stop too (make forwards SIGTERM, but not SIGKILL).
parent=$PPID
( while kill -0 "$parent" 2>/dev/null; do sleep 2; done ) &
pids+=($!); names[$!]="parent process ($parent)"; logs[$!]=/dev/null

say "Waiting for the web server at http://127.0.0.1:$PORT/health ..."
for _ in $(seq 120); do
  python - "$PORT" <<'PY' && break
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=2)
except urllib.error.HTTPError:
    pass  # 503 names what is down; the server itself is up
except OSError:
    sys.exit(1)
PY
  sleep 0.5
done

cat <<EOF

  Convergence is running on http://127.0.0.1:$PORT/
    admin (dashboard)  http://127.0.0.1:$PORT/admin/   (staff login printed above)
    health             http://127.0.0.1:$PORT/health
    API docs           http://127.0.0.1:$PORT/api/docs/
  Emails are kept in var/mail/ (list them: .venv/bin/python manage.py emails)
  S3 + STS (moto)    $s3_endpoint   (exports for the connectors; in memory)
  Logs: var/log/{web,worker,beat,bqemulator,s3,gcs,azurite}.log (appended, rotated past 10 MB)
  Ctrl-C stops everything.

EOF

# A process that stops is named with its last log lines. Without the emulator the rest stays
# up (/health answers 503 naming the warehouse), and without a local object store too (its
# connector fails its checks and syncs); without any other part the system stops.
while true; do
  status=0
  wait -n -p done_pid "${pids[@]}" || status=$?
  [ "$stopping" = 1 ] && break
  [ -n "${done_pid:-}" ] || continue
  report_stop "$done_pid" "$status"
  if [ "${names[$done_pid]}" = "BigQuery emulator" ]; then
    say "The rest keeps running; /health answers 503 naming the warehouse. Ctrl-C stops it." >&2
    rest=()
    for pid in "${pids[@]}"; do [ "$pid" = "$done_pid" ] || rest+=("$pid"); done
    pids=("${rest[@]}")
    continue
  fi
  if [ "${names[$done_pid]}" = "Azurite" ] || [ "${names[$done_pid]}" = "Cloud Storage emulator" ] \
    || [ "${names[$done_pid]}" = "S3 server" ]; then
    say "${names[$done_pid]} is off; the rest keeps running. Ctrl-C stops it." >&2
    rest=()
    for pid in "${pids[@]}"; do [ "$pid" = "$done_pid" ] || rest+=("$pid"); done
    pids=("${rest[@]}")
    continue
  fi
  stop_all 1
done
