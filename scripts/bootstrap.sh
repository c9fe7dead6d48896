# Sourced by run.sh and test.sh: a virtualenv in .venv with requirements-dev.txt installed,
# reinstalled only when a requirements file changes.
set -euo pipefail
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "Creating virtualenv in .venv"
  "$PYTHON" -m venv .venv
fi
stamp=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat .venv/.requirements-stamp 2>/dev/null)" != "$stamp" ]; then
  echo "Installing requirements into .venv"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  echo "$stamp" > .venv/.requirements-stamp
fi
export PATH="$PWD/.venv/bin:$PATH"
