"""Settings shared by every environment; every value that varies comes from the environment."""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Local state (SQLite database, broker file, emulator data); never committed.
VAR_DIR = Path(environ.Env().str("CONVERGENCE_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "dashboard.apps.DashboardAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    # In layers, lowest first (SPEC.md "Layout"; the import-linter contract in pyproject.toml).
    "core",
    "warehouse",
    "tenants",
    "pipelines",
    "scheduling",
    "billing",
    "budgets",
    "costs",
    "mappings",
    "connectors",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.ApiJsonErrorsMiddleware",
    "core.middleware.AddressThrottleMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "convergence.urls"
WSGI_APPLICATION = "convergence.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if "DATABASE_URL" in env.ENVIRON and not env.str("DATABASE_URL").strip():
    raise ImproperlyConfigured(
        "DATABASE_URL is set but empty: unset it for the local SQLite database, or set it to "
        "e.g. postgres://user@host:5432/db"
    )
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'convergence.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, worker and beat share one file locally: wait for locks, take them early.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# Request bodies larger than this are refused with 400 before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.LimitedJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.authentication.ApiKeyAuthentication",
        "tenants.authentication.AdminKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.errors.exception_handler",
    # Per key here; per client address in AddressThrottleMiddleware, before authentication.
    "DEFAULT_THROTTLE_CLASSES": ["core.throttling.KeyRateThrottle"],
    "NUM_PROXIES": env.int("NUM_PROXIES", default=None),
    "UNAUTHENTICATED_USER": None,
}

# Request rates (DRF's "<n>/<second|minute|hour|day>"): per key, per client address, and per
# address on the Stripe webhook. Counted in the default cache, which must be shared by every
# web process for the limits to hold (production: Redis, see CACHE_URL).
API_THROTTLE_RATES = {
    "key": env.str("THROTTLE_RATE_KEY", default="1200/minute"),
    "address": env.str("THROTTLE_RATE_ADDRESS", default="2400/minute"),
    "webhook": env.str("THROTTLE_RATE_WEBHOOK", default="600/minute"),
}


def cache_from_env(default: str) -> dict:
    """``CACHE_URL`` as a CACHES entry; Redis through ``core.cache`` (one client per
    connection pool rather than one per call)."""
    config = env.cache("CACHE_URL", default=default)
    if config["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
        config["BACKEND"] = "core.cache.RedisCache"
    return config


CACHES = {"default": cache_from_env("locmemcache://")}

SPECTACULAR_SETTINGS = {
    "TITLE": "Convergence API",
    "DESCRIPTION": "Multi-tenant cloud-cost pipelines: tenants, credentials, runs, schedules.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page's assets are served from this server, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Request bodies get their own components, so non-blank strings say minLength 1 there.
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.schema.postprocess_errors",
    ],
    "ENUM_NAME_OVERRIDES": {
        "TenantStatusEnum": "tenants.models.TenantStatus",
        "RunStatusEnum": "pipelines.models.RunStatus",
        "StepStatusEnum": "pipelines.models.StepStatus",
        "CredentialKindEnum": "tenants.models.CloudCredential.Kind",
        "BudgetAlertKindEnum": "budgets.models.BudgetAlert.Kind",
        "OnboardStatusEnum": "tenants.apis.ONBOARD_STATUSES",
    },
}

# Celery. The default broker needs no server: kombu's SQLAlchemy transport on a SQLite file.
CELERY_BROKER_URL = env.str(
    "CELERY_BROKER_URL", default=f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}"
)
CELERY_TASK_IGNORE_RESULT = True
# One queue for now; routes go here (Celery 5.7 deprecates queue= on the task decorator).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "pipelines.*": {"queue": "celery"},
    "scheduling.*": {"queue": "celery"},
    "billing.*": {"queue": "celery"},
    "budgets.*": {"queue": "celery"},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# Warehouse (BigQuery). An endpoint means a BigQuery-compatible REST server such as the
# local emulator; empty means Google's own endpoint with application-default credentials.
WAREHOUSE_PROJECT = env.str("WAREHOUSE_PROJECT", default="convergence-local")
WAREHOUSE_ENDPOINT = env.str("WAREHOUSE_ENDPOINT", default="http://127.0.0.1:9050")
WAREHOUSE_LOCATION = env.str("WAREHOUSE_LOCATION", default="US")
WAREHOUSE_ENV = env.str("WAREHOUSE_ENV", default="local")  # local | stage | prod
WAREHOUSE_TIMEOUT_SECONDS = env.float("WAREHOUSE_TIMEOUT_SECONDS", default=60.0)
# The platform's own service-account key file (control-plane work only); empty means
# application-default credentials (anonymous for an emulator endpoint).
WAREHOUSE_CREDENTIALS_FILE = env.str("WAREHOUSE_CREDENTIALS_FILE", default="")
# Every BigQuery job of a tenant's work runs as a service account the platform made for that
# tenant and granted its dataset only; sources outside the platform project are read as the
# tenant's own stored account, or that one. So BigQuery's IAM keeps tenants apart too.
# Off locally: the emulator has no IAM and the in-app access check is the whole guard.
# Production requires it on (convergence/settings/production.py).
WAREHOUSE_TENANT_IDENTITY = env.bool("WAREHOUSE_TENANT_IDENTITY", default=False)
# The projects the tenants' service accounts are spread over (a stable hash of the tenant id
# picks one; docs/isolation.md). Empty: WAREHOUSE_PROJECT alone.
WAREHOUSE_IDENTITY_PROJECTS = env.list("WAREHOUSE_IDENTITY_PROJECTS", default=[])
# An IAM-compatible endpoint serving both the IAM and IAM Credentials APIs (tests' stand-in);
# empty means Google's.
WAREHOUSE_IAM_ENDPOINT = env.str("WAREHOUSE_IAM_ENDPOINT", default="")
# How long a step keeps retrying a warehouse that is unreachable before its run fails.
WAREHOUSE_RETRY_SECONDS = env.float("WAREHOUSE_RETRY_SECONDS", default=30.0)
# A GCS-compatible endpoint for reading gs:// export headers; empty means Google Cloud Storage.
STORAGE_ENDPOINT = env.str("STORAGE_ENDPOINT", default="")
# An Azure Blob-compatible server (Azurite, accounts in the path: ``{this}/<account>``) for
# tenants' Azure exports; empty means Azure's own ``https://<account>.blob.core.windows.net``.
AZURE_BLOB_ENDPOINT = env.str("AZURE_BLOB_ENDPOINT", default="")
# Export connectors (warehouse/s3.py). Empty endpoints mean AWS itself; locally and in tests
# they name the local S3 + STS server (moto). OCI_S3_ENDPOINT_URL replaces OCI's
# https://{namespace}.compat.objectstorage.{region}.oraclecloud.com the same way.
S3_ENDPOINT_URL = env.str("S3_ENDPOINT_URL", default="")
STS_ENDPOINT_URL = env.str("STS_ENDPOINT_URL", default="")
OCI_S3_ENDPOINT_URL = env.str("OCI_S3_ENDPOINT_URL", default="")
# The platform's own AWS identity, which assumes tenants' roles. Empty means boto3's default
# chain (AWS_* environment variables, web identity federation, an instance or task role).
AWS_PLATFORM_ACCESS_KEY_ID = env.str("AWS_PLATFORM_ACCESS_KEY_ID", default="")
AWS_PLATFORM_SECRET_ACCESS_KEY = env.str("AWS_PLATFORM_SECRET_ACCESS_KEY", default="")

# Pipeline configs, and the only folder local files may be loaded from (gs:// URIs aside).
PIPELINE_CONFIGS_DIR = Path(env.str("PIPELINE_CONFIGS_DIR", default=str(BASE_DIR / "configs")))
PIPELINE_LOCAL_FILES_DIR = Path(
    env.str("PIPELINE_LOCAL_FILES_DIR", default=str(VAR_DIR / "imports"))
)

# KMS. "local": a keyring file outside the repo; "gcp": Google Cloud KMS.
KMS_BACKEND = env.str("KMS_BACKEND", default="local")
KMS_LOCAL_KEYRING_PATH = env.str(
    "KMS_LOCAL_KEYRING_PATH",
    default=str(Path.home() / ".local" / "share" / "convergence" / "keyring.json"),
)
KMS_KEY_NAME = env.str("KMS_KEY_NAME", default="")
KMS_ENDPOINT = env.str("KMS_ENDPOINT", default="")

# Stripe.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")

# Email.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
# The address customers use, for links in emails; empty: a placeholder is shown instead.
PUBLIC_URL = env.str("PUBLIC_URL", default="").rstrip("/")
# Alert webhooks (budgets.webhooks): https only, and hosts that resolve to public addresses
# only; WEBHOOK_ALLOW_PRIVATE_HOSTS lists networks exempted (CIDR, comma-separated).
WEBHOOK_HTTPS_ONLY = env.bool("WEBHOOK_HTTPS_ONLY", default=True)
WEBHOOK_ALLOW_PRIVATE_HOSTS = env.list("WEBHOOK_ALLOW_PRIVATE_HOSTS", default=[])
DEFAULT_FROM_EMAIL = env.str(
    "DEFAULT_FROM_EMAIL", default="Convergence <no-reply@convergence.local>"
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # The Azure SDK logs every request and response at INFO.
    "loggers": {"azure": {"level": "WARNING"}},
}
