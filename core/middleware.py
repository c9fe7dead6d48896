"""Every answer under ``/api/`` is JSON, whatever went wrong and whatever ``DEBUG`` says."""

import json
import logging
import math

from django.http import HttpRequest, HttpResponse, JsonResponse

from core.parsers import content_type_charset_problem
from core.throttling import AddressRateThrottle, KeyRateThrottle, address_check

logger = logging.getLogger("core.errors")

API_PREFIX = "/api/"


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIX)


class ApiJsonErrorsMiddleware:
    """API clients never see Django's HTML pages (the debug page prints settings and the URL
    conf): an unhandled exception becomes a JSON 500, and any other non-JSON error answer
    (the debug 404, a bad-request page) a JSON body with a ``detail``. Other paths (the
    admin) keep Django's own pages."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not is_api_path(request.path) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        return _json_error(request, response.status_code, response)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api_path(request.path):
            return None
        logger.error(
            "unhandled %s on %s %s",
            type(exception).__name__,
            request.method,
            request.path,
            exc_info=exception,
        )
        return JsonResponse({"detail": "Internal server error."}, status=500)


DETAILS = {
    400: "Bad request.",
    403: "Forbidden.",
    404: "Not found.",
    405: "Method not allowed.",
    413: "Request body too large.",
    500: "Internal server error.",
}


def _json_error(request: HttpRequest, status: int, original: HttpResponse) -> JsonResponse:
    if status == 404:
        detail = f"Not found: {request.path[:200]}"
    else:
        detail = DETAILS.get(status, f"HTTP {status}.")
    response = JsonResponse({"detail": detail}, status=status)
    for header in ("Allow", "Retry-After", "WWW-Authenticate"):
        if header in original:
            response[header] = original[header]
    return response


class AddressThrottleMiddleware:
    """The API's per-address limit, checked before the view authenticates anyone.

    Applies to every DRF view that has no address throttle of its own (the webhook has its
    own budget, ``WebhookAddressRateThrottle``, and no authentication).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        from rest_framework.views import APIView

        view = getattr(view_func, "cls", None)
        if not (isinstance(view, type) and issubclass(view, APIView)):
            return None
        if any(issubclass(t, AddressRateThrottle) for t in view.throttle_classes):
            return None
        # The key the view will authenticate (the first of its classes whose header came),
        # so the same round trip reads its cached row and counts it.
        key = None
        for auth in view.authentication_classes:
            if getattr(auth, "header", None) in request.META:
                key = auth.lookahead(request) if hasattr(auth, "lookahead") else None
                break
        counted = any(issubclass(t, KeyRateThrottle) for t in view.throttle_classes)
        throttle = address_check(request, key=key, key_counted=counted)
        if throttle is None:
            return None
        wait = math.ceil(throttle.wait() or 1)
        response = JsonResponse(
            {"detail": f"Request was throttled. Expected available in {wait} seconds."},
            status=429,
        )
        response["Retry-After"] = str(wait)
        return response


class CharsetGuard:
    """WSGI, first in line: a request whose ``Content-Type`` names a charset that is no
    character set (``rot13``, ``base64``, an unknown name) is answered 400 before Django
    builds the request. Building it decodes the query string in that charset, so
    ``GET /health?x=1`` with ``charset=rot13`` was a plain-text 500 that no middleware saw
    (the JSON error handling and the per-address throttle included), on every path."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        problem = content_type_charset_problem(environ.get("CONTENT_TYPE", ""))
        if problem is None:
            return self.application(environ, start_response)
        body = json.dumps({"detail": problem}).encode()
        start_response(
            "400 Bad Request",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("X-Content-Type-Options", "nosniff"),
            ],
        )
        return [body]
