"""URLs for benchmarks/api_throughput.py: the project's routes, plus two reference endpoints
(a bare DRF view that makes one SELECT, and hello)."""

from django.db import connection
from django.http import HttpResponse
from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


class BareSelectApi(APIView):
    """DRF with no authentication, one SELECT of one row: the floor a DRF endpoint stands on."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, status FROM tenants_tenant ORDER BY id LIMIT 1")
            tenant_id, status = cursor.fetchone()
        return Response({"id": tenant_id, "status": status})


def hello(request):
    return HttpResponse("hello", content_type="text/plain")


urlpatterns = [
    path("bench/bare", BareSelectApi.as_view()),
    path("bench/hello", hello),
    path("", include("convergence.urls")),
]

handler404 = "core.errors.not_found"
handler500 = "core.errors.server_error"
