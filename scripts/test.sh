#!/usr/bin/env bash
# Lint, Django's checks, migrations up to date, then the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
export DJANGO_SETTINGS_MODULE=convergence.settings.test

echo "== ruff"
ruff check .
ruff format --check .
echo "== import layers (pyproject.toml [tool.importlinter])"
lint-imports --no-cache
echo "== django checks"
python manage.py check --fail-level WARNING
python manage.py makemigrations --check --dry-run
python manage.py spectacular --validate --fail-on-warn >/dev/null
python manage.py validate_pipeline_configs >/dev/null
DJANGO_SETTINGS_MODULE=convergence.settings.production \
  DJANGO_SECRET_KEY="check-deploy-$(python -c 'import secrets; print(secrets.token_urlsafe(48))')" \
  DJANGO_ALLOWED_HOSTS=convergence.example.com \
  WAREHOUSE_ENDPOINT= WAREHOUSE_PROJECT=convergence-prod WAREHOUSE_TENANT_IDENTITY=true \
  WAREHOUSE_IDENTITY_PROJECTS=convergence-ids-0,convergence-ids-1 \
  KMS_BACKEND=gcp KMS_KEY_NAME=projects/p/locations/l/keyRings/r/cryptoKeys/k \
  python manage.py check --deploy --fail-level WARNING
echo "== pytest ($(python -c 'import environ; print(environ.Env().db_url("DATABASE_URL", default="sqlite:///").get("ENGINE"))'))"
python -m pytest "$@"
