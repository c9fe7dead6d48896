"""Test settings: the same services as local unless the environment names others."""

import os

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, VAR_DIR, env

# The BigQuery emulator's wrapper and command: never in production.
INSTALLED_APPS = [*INSTALLED_APPS, "devtools"]

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="test-only-not-secret")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests get their own broker file unless CELERY_BROKER_URL names a server (CI: Redis).
CELERY_BROKER_URL = env.str(
    "CELERY_BROKER_URL", default=f"sqla+sqlite:///{VAR_DIR / 'celery-test-broker.sqlite3'}"
)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, as in `make run`, not the shared-cache memory database, whose table locks fail
    # concurrent writers at once instead of waiting (the concurrency tests need real waits).
    # One file per test process, so two runs in one checkout do not share it.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(VAR_DIR / f"test-convergence-{os.getpid()}.sqlite3")
    }
# The suite sends thousands of requests from one address; the throttling tests set low rates.
API_THROTTLE_RATES = {"key": None, "address": None, "webhook": None}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# The tests' webhook receivers listen on 127.0.0.1 over plain http; only that one address is
# exempted from the public-address rule (the guard's own tests turn the exemption off).
WEBHOOK_HTTPS_ONLY = False
WEBHOOK_ALLOW_PRIVATE_HOSTS = ["127.0.0.1/32"]

# The conftest's `s3_endpoint` fixture points S3_ENDPOINT_URL, STS_ENDPOINT_URL and
# OCI_S3_ENDPOINT_URL at a moto server of its own; these keys sign for the platform there.
AWS_PLATFORM_ACCESS_KEY_ID = env.str("AWS_PLATFORM_ACCESS_KEY_ID", default="convergence-test")
AWS_PLATFORM_SECRET_ACCESS_KEY = env.str(
    "AWS_PLATFORM_SECRET_ACCESS_KEY", default="test-only-not-secret"
)

VAR_DIR.mkdir(parents=True, exist_ok=True)
