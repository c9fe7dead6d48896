"""The Celery application; configuration comes from Django settings (CELERY_*)."""

import os

from celery import Celery

from convergence.broker import register as register_broker_transport

register_broker_transport()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convergence.settings.local")

app = Celery("convergence")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
