"""Tenant isolation: tenant A's key reaches none of tenant B's routes, whatever the route."""

from django.urls import URLPattern, URLResolver, get_resolver

from budgets.models import Budget, WebhookEndpoint
from mappings.models import FocusMapping
from tenants.models import ApiKey, AuditEvent, CloudCredential, ProviderConfig, Tenant
from tenants.permissions import IsStaff
from tenants.services.audit import Actor
from tenants.services.credentials import credential_store
from tenants.tests.conftest import key_client

BODIES = {
    "post": {
        "provider": "aws",
        "kind": "aws_access_key",
        "name": "x",
        "secret": {"access_key_id": "AKIAX", "secret_access_key": "s"},
        "settings": {},
    },
}


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def tenant_routes():
    """Every route in the URL conf whose path names a tenant."""
    return [
        (route, pattern)
        for route, pattern in _walk(get_resolver().url_patterns)
        if "<str:tenant_id>" in route
    ]


def _snapshot():
    return (
        list(Tenant.objects.values_list("pk", "status")),
        list(ApiKey.objects.values_list("pk", "revoked_at")),
        list(CloudCredential.objects.values_list("pk", "updated_at")),
        ProviderConfig.objects.count(),
        AuditEvent.objects.count(),
        list(Budget.objects.values_list("pk", "amount")),
        list(WebhookEndpoint.objects.values_list("pk", "url")),
        list(FocusMapping.objects.values_list("pk", "definition")),
    )


def test_enumeration_finds_the_tenant_routes():
    """The walk really sees the routes (so the isolation test below cannot pass vacuously)."""
    routes = {route for route, _ in tenant_routes()}
    assert "api/v1/tenants/<str:tenant_id>/credentials" in routes
    assert len(routes) >= 6


def test_every_tenant_route_answers_404_to_another_tenants_key(onboard):
    """Each method of each tenant-scoped route, with A's key on B's id: 404, nothing changes."""
    a = onboard("tenant_a")
    b = onboard("tenant_b")
    b_credential = credential_store(
        tenant=b.tenant,
        provider="aws",
        kind="aws_access_key",
        name="main",
        secret={"access_key_id": "AKIAB", "secret_access_key": "b-secret"},
        actor=Actor.system("test"),
    )
    # Every object id a tenant route can carry, pointing at B's objects. A new route with
    # another parameter fails here until it is added, so no route escapes the check.
    b_objects = {
        "key_id": b.tenant.api_keys.get().pk,
        "credential_id": b_credential.pk,
    }
    from pipelines.tests.isolation import extra_b_objects

    b_objects.update(extra_b_objects(b.tenant))
    from budgets.tests.isolation import extra_b_objects as budget_objects

    b_objects.update(budget_objects(b.tenant))
    from mappings.tests.isolation import extra_b_objects as mapping_objects

    b_objects.update(mapping_objects(b.tenant))
    client = key_client(a.api_key)
    before = _snapshot()
    tried = 0
    for route, pattern in tenant_routes():
        path = "/" + route.replace("<str:tenant_id>", "tenant_b")
        for name in pattern.pattern.converters:
            if name == "tenant_id":
                continue
            assert name in b_objects, f"route {route} has a parameter the test does not know"
            for converter in ("int", "uuid", "str"):
                path = path.replace(f"<{converter}:{name}>", str(b_objects[name]))
        view = pattern.callback.view_class
        # Staff routes refuse every tenant key outright; tenant routes hide B entirely.
        expected = 403 if IsStaff in view.permission_classes else 404
        for method in ("get", "post", "put", "patch", "delete"):
            if not hasattr(view, method):
                continue
            response = getattr(client, method)(path, BODIES.get(method, {}), format="json")
            assert response.status_code == expected, (method, path, response.content)
            assert "detail" in response.json()
            tried += 1
    assert tried >= 10
    assert _snapshot() == before
