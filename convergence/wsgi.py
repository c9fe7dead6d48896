"""WSGI entry point: Django behind the charset guard, which must see a request first."""

import os

from django.core.wsgi import get_wsgi_application

from core.middleware import CharsetGuard

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convergence.settings.production")

application = CharsetGuard(get_wsgi_application())
