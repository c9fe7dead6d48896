"""Local development: zero setup, every service local."""

from .base import *  # noqa: F403
from .base import VAR_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="local-development-only-not-secret")
# Lets the demo's signed-event command talk to the local webhook; real secrets come from env.
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="whsec_local_development_only")

VAR_DIR.mkdir(parents=True, exist_ok=True)
