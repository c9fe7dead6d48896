# Sourced by run.sh and test.sh: a virtualenv in .venv with requirements-dev.txt installed,
# reinstalled only when a requirements file changes, and Azurite (node_modules, from
# package-lock.json) when npm is installed. Each stage says what it does, and the install
# prints a line per package.
set -euo pipefail
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[setup] Creating the virtualenv in .venv"
  "$PYTHON" -m venv .venv
fi
stamp=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat .venv/.requirements-stamp 2>/dev/null)" != "$stamp" ]; then
  count=$(cat requirements.txt requirements-dev.txt | grep -cE '^[A-Za-z0-9]')
  echo "[setup] Installing $count pinned requirements and their dependencies into .venv;"
  echo "[setup] a first install takes a few minutes. A line per package follows."
  set +e
  .venv/bin/python -m pip install --disable-pip-version-check -r requirements-dev.txt 2>&1 \
    | grep --line-buffered -E '^(Collecting|Installing|Successfully|ERROR|error)'
  pip_status=${PIPESTATUS[0]}
  set -e
  if [ "$pip_status" -ne 0 ]; then
    echo "[setup] pip failed; run: .venv/bin/python -m pip install -r requirements-dev.txt" >&2
    exit 1
  fi
  echo "$stamp" > .venv/.requirements-stamp
  echo "[setup] Requirements installed."
fi
# Azurite, the local Azure Blob Storage server, is a Node.js package: without npm the Azure
# connector is off locally and make run says so.
if [ -L node_modules ]; then
  # A shared install (worktrees link one node_modules): npm ci here would empty it for every
  # checkout sharing it. Install it where it lives.
  if [ ! -x node_modules/.bin/azurite-blob ]; then
    echo "[setup] node_modules links to $(readlink node_modules), which has no Azurite: run npm ci there." >&2
  fi
elif command -v npm >/dev/null 2>&1; then
  npm_stamp=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ "$(cat node_modules/.package-lock-stamp 2>/dev/null)" != "$npm_stamp" ]; then
    echo "[setup] Installing Azurite (local Azure Blob Storage) into node_modules with npm ci"
    if npm ci --no-audit --no-fund --loglevel=error >/dev/null; then
      echo "$npm_stamp" > node_modules/.package-lock-stamp
    else
      echo "[setup] npm ci failed; the Azure connector is off locally (run: npm ci)" >&2
    fi
  fi
else
  echo "[setup] npm not found: Azurite (the local Azure Blob Storage server) is not installed."
fi
export PATH="$PWD/.venv/bin:$PATH"
