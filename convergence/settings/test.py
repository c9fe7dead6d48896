"""Test settings: the same services as local unless the environment names others."""

from .base import *  # noqa: F403
from .base import VAR_DIR, env

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="test-only-not-secret")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests get their own broker file unless CELERY_BROKER_URL names a server (CI: Redis).
CELERY_BROKER_URL = env.str(
    "CELERY_BROKER_URL", default=f"sqla+sqlite:///{VAR_DIR / 'celery-test-broker.sqlite3'}"
)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, as in `make run`, not the shared-cache memory database, whose table locks fail
    # concurrent writers at once instead of waiting (the concurrency tests need real waits).
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-convergence.sqlite3")}  # noqa: F405
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

VAR_DIR.mkdir(parents=True, exist_ok=True)
