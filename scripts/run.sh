#!/usr/bin/env bash
# Run the whole system locally: BigQuery emulator, web server, Celery worker and beat.
# Ctrl-C stops them all. State lives in var/ (and the KMS keyring outside the repo).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-convergence.settings.local}
PORT=${PORT:-8000}
mkdir -p var/log var/imports

pids=()
stop_all() {
  trap - INT TERM EXIT
  echo; echo "Stopping..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  exit 0
}
trap stop_all INT TERM EXIT

endpoint=$(python -c 'from django.conf import settings; import django; django.setup(); print(settings.WAREHOUSE_ENDPOINT)')
case "$endpoint" in
  http://127.0.0.1:*|http://localhost:*)
    python manage.py warehouse_emulator >var/log/bqemulator.log 2>&1 &
    pids+=($!)
    ;;
esac

python manage.py migrate --noinput
python manage.py setup_periodic_tasks
python manage.py ensure_local_admin

# The worker's output (runs, and the emails the console backend prints) shows here too.
celery -A convergence worker --loglevel INFO --concurrency 2 > >(tee var/log/worker.log) 2>&1 &
pids+=($!)
celery -A convergence beat --loglevel INFO >var/log/beat.log 2>&1 &
pids+=($!)
python manage.py runserver "127.0.0.1:$PORT" --noreload &
pids+=($!)

echo "Convergence is starting on http://127.0.0.1:$PORT/admin/  (health: /health, API docs: /api/docs/)"
echo "Logs: var/log/{bqemulator,worker,beat}.log. Ctrl-C stops everything."
status=0
wait -n || status=$?
# 128+ means a signal (Ctrl-C reaches every process); anything else is a real failure.
if [ "$status" -lt 128 ]; then
  echo "A process of the system stopped (exit $status); see the output above and var/log/." >&2
fi
