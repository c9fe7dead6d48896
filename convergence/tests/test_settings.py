"""Settings fail with a clear message on a bad environment, not a KeyError."""

import os
import subprocess
import sys

import pytest
from django.conf import settings


def test_empty_database_url_is_a_clear_error():
    env = {**os.environ, "DATABASE_URL": "", "DJANGO_SETTINGS_MODULE": "convergence.settings.test"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "DATABASE_URL is set but empty" in result.stderr
    assert "KeyError" not in result.stderr


PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "convergence.settings.production",
    "DJANGO_SECRET_KEY": "settings-test-" + "x" * 50,
    "DJANGO_ALLOWED_HOSTS": "convergence.example.com",
    "WAREHOUSE_ENDPOINT": "",
    "WAREHOUSE_PROJECT": "convergence-prod",
    "KMS_BACKEND": "gcp",
    "KMS_KEY_NAME": "projects/p/locations/l/keyRings/r/cryptoKeys/k",
    "WAREHOUSE_TENANT_IDENTITY": "true",
    "WAREHOUSE_IDENTITY_PROJECTS": "convergence-ids-0,convergence-ids-1",
}
OPT_OUT = "WAREHOUSE_TENANT_IDENTITY_OFF_PLATFORM_ACCOUNT_READS_EVERY_TENANT"


def _production(code: str, **overrides: str | None) -> subprocess.CompletedProcess:
    env = {**os.environ, **PRODUCTION_ENV}
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [sys.executable, *code.split("\n")]
        if code.startswith("manage.py")
        else [sys.executable, "-c", f"import django; django.setup()\n{code}"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_runs_tenant_jobs_as_the_tenants_identity():
    """Production settings, loaded as a deployment loads them: the identity is on."""
    result = _production(
        "from django.conf import settings as s\n"
        "print(s.WAREHOUSE_TENANT_IDENTITY, s.WAREHOUSE_IDENTITY_PROJECTS,"
        " s.TENANT_IDENTITY_OPT_OUT)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "True",
        "['convergence-ids-0',",
        "'convergence-ids-1']",
        OPT_OUT,
    ]


def test_production_refuses_to_start_with_the_identity_off():
    """``check --deploy`` with the identity off fails, naming the setting and the opt-out."""
    result = _production("manage.py\ncheck\n--deploy", WAREHOUSE_TENANT_IDENTITY="false")
    assert result.returncode != 0
    assert "WAREHOUSE_TENANT_IDENTITY is off" in result.stderr
    assert OPT_OUT in result.stderr
    missing = _production("manage.py\ncheck\n--deploy", WAREHOUSE_TENANT_IDENTITY=None)
    assert missing.returncode != 0
    assert "Set the WAREHOUSE_TENANT_IDENTITY environment variable" in missing.stderr


@pytest.mark.parametrize("name", ["WAREHOUSE_ENDPOINT", "WAREHOUSE_PROJECT", "KMS_BACKEND"])
def test_production_names_every_backend_it_is_not_given(name):
    """Production falls back to no local stand-in: a backend left out stops the start,
    naming its variable."""
    result = _production("manage.py\ncheck\n--deploy", **{name: None})
    assert result.returncode != 0
    assert f"Set the {name} environment variable" in result.stderr


def test_production_runs_without_the_identity_only_with_the_named_opt_out():
    result = _production(
        "from django.conf import settings as s\nprint(s.WAREHOUSE_TENANT_IDENTITY)",
        WAREHOUSE_TENANT_IDENTITY="false",
        **{OPT_OUT: "true"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False"]


def test_the_docs_say_what_production_does():
    """docs/isolation.md and the README name what the production settings enforce."""
    result = _production("from django.conf import settings as s\nprint(s.TENANT_IDENTITY_OPT_OUT)")
    opt_out = result.stdout.strip()
    isolation = (settings.BASE_DIR / "docs" / "isolation.md").read_text()
    readme = (settings.BASE_DIR / "README.md").read_text()
    for text in (isolation, readme):
        assert opt_out in text
        assert "WAREHOUSE_IDENTITY_PROJECTS" in text
    row = next(
        line for line in readme.splitlines() if line.startswith("| `WAREHOUSE_TENANT_IDENTITY`")
    )
    assert "on in production" in row and "refuses to start" in row
