"""``GET /health``: is each service the system depends on reachable?"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from convergence.celery import app as celery_app
from tenants.kms import kms_ping
from warehouse.bigquery import get_warehouse

logger = logging.getLogger(__name__)


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker() -> None:
    with celery_app.connection_for_write(url=settings.CELERY_BROKER_URL) as conn:
        conn.ensure_connection(max_retries=1, timeout=3)


def _warehouse() -> None:
    get_warehouse().ping()


CHECKS: dict[str, Callable[[], None]] = {
    "database": _database,
    "broker": _broker,
    "warehouse": _warehouse,
    "kms": kms_ping,
}


def health_status() -> dict[str, dict[str, str]]:
    """Run every check; a failure is reported by kind only, never with its details."""
    components = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:
            logger.warning("health check %s failed: %s", name, type(exc).__name__)
            components[name] = {"status": "down", "error": type(exc).__name__}
        else:
            components[name] = {"status": "ok"}
    return components


class HealthApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    HEALTH = inline_serializer(
        "Health",
        {"status": serializers.CharField(), "components": serializers.DictField()},
    )

    @extend_schema(responses={200: HEALTH, 503: HEALTH})
    def get(self, request):
        components = health_status()
        down = sorted(name for name, c in components.items() if c["status"] != "ok")
        body = {"status": "ok" if not down else "down", "components": components}
        if down:
            body["detail"] = f"Unavailable: {', '.join(down)}"
        return Response(body, status=503 if down else 200)
