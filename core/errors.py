"""API-wide error handling: every error is JSON with a ``detail`` that names the problem."""

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class Conflict(exceptions.APIException):
    """409: the request conflicts with the current state (a name or run state taken)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "Conflict."


def _flatten(errors: Any, prefix: str = "") -> list[str]:
    if isinstance(errors, dict):
        out: list[str] = []
        for field, value in errors.items():
            name = f"{prefix}.{field}" if prefix else str(field)
            out.extend(_flatten(value, "" if name == "non_field_errors" else name))
        return out
    if isinstance(errors, list):
        return [m for item in errors for m in _flatten(item, prefix)]
    return [f"{prefix}: {errors}" if prefix else str(errors)]


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, with validation errors folded into one readable ``detail``."""
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": "Request body too large."}, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        messages = _flatten(exc.detail)
        response.data = {"detail": "; ".join(messages), "errors": exc.detail}
    return response


def not_found(request, exception=None):
    """JSON 404 for every unknown URL."""
    return JsonResponse({"detail": f"Not found: {request.path[:200]}"}, status=404)


def server_error(request):
    return JsonResponse({"detail": "Internal server error."}, status=500)
