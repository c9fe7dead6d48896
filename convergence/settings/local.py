"""Local development: zero setup, every service local."""

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, VAR_DIR, env

# The BigQuery emulator's wrapper and command: never in production.
INSTALLED_APPS = [*INSTALLED_APPS, "devtools"]

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="local-development-only-not-secret")
# Lets the demo's signed-event command talk to the local webhook; real secrets come from env.
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="whsec_local_development_only")

PORT = env.int("PORT", default=8000)
# Links in emails point at this machine's `make run` (its PORT).
PUBLIC_URL = env.str("PUBLIC_URL", default=f"http://127.0.0.1:{PORT}")
# The emulator's port follows PORT (8000 → 9050), so two `make run`s on two ports never meet.
WAREHOUSE_ENDPOINT = env.str("WAREHOUSE_ENDPOINT", default=f"http://127.0.0.1:{PORT + 1050}")
# The local Cloud Storage emulator and Azurite that `make run` starts beside it.
STORAGE_ENDPOINT = env.str("STORAGE_ENDPOINT", default=f"http://127.0.0.1:{PORT + 1051}")
AZURE_BLOB_ENDPOINT = env.str("AZURE_BLOB_ENDPOINT", default=f"http://127.0.0.1:{PORT + 1052}")
# The local S3 + STS server (moto, started by `make run`) follows PORT too (8000 → 9060); it
# stands in for AWS S3, STS and OCI's S3 compatibility API. Any key signs against it.
S3_ENDPOINT_URL = env.str("S3_ENDPOINT_URL", default=f"http://127.0.0.1:{PORT + 1060}")
STS_ENDPOINT_URL = env.str("STS_ENDPOINT_URL", default=S3_ENDPOINT_URL)
OCI_S3_ENDPOINT_URL = env.str("OCI_S3_ENDPOINT_URL", default=S3_ENDPOINT_URL)
AWS_PLATFORM_ACCESS_KEY_ID = env.str("AWS_PLATFORM_ACCESS_KEY_ID", default="convergence-local")
AWS_PLATFORM_SECRET_ACCESS_KEY = env.str(
    "AWS_PLATFORM_SECRET_ACCESS_KEY", default="local-development-only-not-secret"
)

# A local receiver may be plain http; hosts must still be public unless
# WEBHOOK_ALLOW_PRIVATE_HOSTS names them (e.g. 127.0.0.1/32 for a receiver on this machine).
WEBHOOK_HTTPS_ONLY = env.bool("WEBHOOK_HTTPS_ONLY", default=False)

VAR_DIR.mkdir(parents=True, exist_ok=True)

# Without EMAIL_URL, every email is kept as a file under var/mail/ and printed to the console;
# `manage.py emails` lists them (a new tenant's API key survives a restart there).
if not env.str("EMAIL_URL", default=""):
    EMAIL_BACKEND = "core.mail.KeptEmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
