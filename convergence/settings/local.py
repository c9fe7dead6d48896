"""Local development: zero setup, every service local."""

from .base import *  # noqa: F403
from .base import VAR_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="local-development-only-not-secret")

VAR_DIR.mkdir(parents=True, exist_ok=True)
