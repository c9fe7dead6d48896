"""OpenAPI generation: unique component names for nested serializers, key authentication."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as BaseAutoSchema


class AutoSchema(BaseAutoSchema):
    def get_serializer_name(self, serializer, direction) -> str:
        """``TenantOnboardApi.InputSerializer`` becomes ``TenantOnboardInput``, not ``Input``."""
        outer, _, inner = type(serializer).__qualname__.rpartition(".")
        if not outer:
            return super().get_serializer_name(serializer, direction)
        return outer.removesuffix("Api") + inner


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-API-Key"}


class AdminKeyScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.authentication.AdminKeyAuthentication"
    name = "AdminKey"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-Admin-Key"}


ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "description": "Every error: a `detail` naming the problem. A validation error adds "
    "`errors` (per field); a quota refusal adds `window`, `used`, `limit` and `resets_at`.",
}
ERROR_DESCRIPTIONS = {
    "400": "Invalid input; `detail` names the field and the problem (on any operation: a "
    "`charset` in `Content-Type` that is no character set, such as `rot13`).",
    "401": "No credentials, or an invalid, expired or revoked key.",
    "403": "Authenticated but not allowed (a tenant key on a staff route, a tenant that may "
    "not run).",
    "404": "No such object for these credentials (another tenant's objects are 404 too).",
    "409": "Conflicts with the current state.",
    "429": "Over a quota or a request rate limit; `Retry-After` says when to try again.",
    "503": "A service the request needs (warehouse, KMS, Stripe settings) is unavailable.",
}
# Answers particular to some operations, beside the ones every operation can give.
EXTRA_STATUSES = {
    ("/api/v1/tenants/onboard", "post"): ["409", "503"],
    ("/api/v1/admin/tenants", "post"): ["409", "503"],
    ("/api/v1/tenants/{tenant_id}/credentials", "post"): ["503"],
    ("/api/v1/tenants/{tenant_id}/provider-configs", "post"): ["503"],
    ("/api/v1/scheduler/tenant/{tenant_id}/pipelines", "post"): ["409"],
    ("/api/v1/pipelines/runs/{run_id}/cancel", "post"): ["409"],
    ("/api/v1/billing/stripe/webhook", "post"): ["503"],
    ("/api/v1/tenants/{tenant_id}/budgets", "post"): ["409"],
}
METHODS = {"get", "post", "put", "patch", "delete"}


def postprocess_errors(result, generator, request, public):
    """Document the error answers every API operation really gives, with one ``Error`` body,
    and mark request bodies closed (the server refuses unknown fields with a 400)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR
    ref = {"$ref": "#/components/schemas/Error"}
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            # Every path: the charset guard answers before any view (convergence.wsgi).
            statuses = ["400"]
            if not path.startswith("/api/"):
                _add_errors(operation, statuses, ref)
                continue
            parameters = operation.get("parameters", [])
            for parameter in parameters:
                if parameter["in"] == "query":
                    _close_string(parameter.get("schema", {}))
            statuses.append("429")
            if operation.get("security"):
                statuses += ["401", "403", "404"]
            elif any(p["in"] == "path" for p in parameters):
                statuses.append("404")
            statuses += EXTRA_STATUSES.get((path, method), [])
            _add_errors(operation, statuses, ref)
            body = operation.get("requestBody", {}).get("content", {})
            for media in body.values():
                name = media.get("schema", {}).get("$ref", "").rpartition("/")[2]
                if name in schemas:
                    _close_request_schema(schemas[name])
    return result


def _add_errors(operation: dict, statuses: list[str], ref: dict) -> None:
    responses = operation.setdefault("responses", {})
    for status in statuses:
        responses.setdefault(
            status,
            {
                "description": ERROR_DESCRIPTIONS[status],
                "content": {"application/json": {"schema": ref}},
            },
        )
    for status, response in responses.items():
        if status in ERROR_DESCRIPTIONS and "content" not in response:
            response["content"] = {"application/json": {"schema": ref}}


# The server trims surrounding whitespace (a blank string is then refused) and refuses NUL.
NOT_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"
NO_NUL = r"^[^\x00]*$"


def _close_request_schema(schema: dict) -> None:
    """Unknown fields are refused; plain strings say what the server refuses of them."""
    schema["additionalProperties"] = False
    for prop in schema.get("properties", {}).values():
        _close_string(prop)


def _close_string(prop: dict) -> None:
    """A plain string (body field or query parameter) says what the server refuses of it."""
    if prop.get("type") != "string" or {"format", "enum", "pattern"} & set(prop):
        return
    prop["pattern"] = NOT_BLANK if prop.get("minLength", 0) >= 1 else NO_NUL
