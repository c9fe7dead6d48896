"""Production: everything from the environment, secure defaults."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import cache_from_env, env

SECRET_KEY = env.str("DJANGO_SECRET_KEY")

# Every outside backend is chosen here, explicitly: none falls back to the local stand-ins of
# base.py (the emulator's address, the keyring file). A variable left out stops the start with
# "Set the <NAME> environment variable".
WAREHOUSE_ENDPOINT = env.str("WAREHOUSE_ENDPOINT")  # empty: Google's BigQuery
WAREHOUSE_PROJECT = env.str("WAREHOUSE_PROJECT")
KMS_BACKEND = env.str("KMS_BACKEND")  # gcp (Cloud KMS) or local (a keyring file)
# Tenants' jobs run as their own identities (docs/isolation.md). Off, the platform's account
# would run them, and it can read every tenant's dataset: production refuses to start unless
# the opt-out below says, in its name, what it gives up.
WAREHOUSE_TENANT_IDENTITY = env.bool("WAREHOUSE_TENANT_IDENTITY")
TENANT_IDENTITY_OPT_OUT = "WAREHOUSE_TENANT_IDENTITY_OFF_PLATFORM_ACCOUNT_READS_EVERY_TENANT"
if not WAREHOUSE_TENANT_IDENTITY and not env.bool(TENANT_IDENTITY_OPT_OUT, default=False):
    raise ImproperlyConfigured(
        "WAREHOUSE_TENANT_IDENTITY is off: tenants' BigQuery jobs would run as the platform's "
        "account, which can read every tenant's dataset. Set WAREHOUSE_TENANT_IDENTITY=true "
        f"(and WAREHOUSE_IDENTITY_PROJECTS), or {TENANT_IDENTITY_OPT_OUT}=true to run without."
    )
if WAREHOUSE_TENANT_IDENTITY:
    WAREHOUSE_IDENTITY_PROJECTS = env.list("WAREHOUSE_IDENTITY_PROJECTS")

# Persistent connections: each gunicorn sync worker (and Celery worker process) serves one
# request at a time, so one connection per process, kept open, is all it needs; opening one
# per request cost more than the request's own queries. Django's psycopg pool (OPTIONS
# "pool") would only add a per-process pool of connections that sync workers never use at
# once. Health checks drop a connection the server closed before it is reused.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)  # noqa: F405
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # noqa: F405
DEBUG = False
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Rate limits must be counted where every web process sees them: Redis by default.
CACHES = {"default": cache_from_env("rediscache://127.0.0.1:6379/1")}

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^health$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True

MIDDLEWARE = [
    MIDDLEWARE[0],  # noqa: F405
    "whitenoise.middleware.WhiteNoiseMiddleware",
    *MIDDLEWARE[1:],  # noqa: F405
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Alert webhooks go over https only in production, whatever the environment says.
WEBHOOK_HTTPS_ONLY = True
