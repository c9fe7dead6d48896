"""Every API answer is JSON with a ``detail``, whatever went wrong and whatever DEBUG says."""

import pytest
from rest_framework.test import APIClient

from tenants.tests.conftest import key_client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/pipelines/runs/null/cancel",
        "/api/v1/no/such/route",
        "/api/v1/billing/stripe/webhook/extra",
    ],
)
def test_unmatched_api_url_is_json_404(settings, debug, path):
    """An unmatched URL under /api/ is a JSON 404, never Django's page listing the URL conf."""
    settings.DEBUG = debug
    response = APIClient().post(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith("Not found")
    assert b"urlpatterns" not in response.content and b"<html" not in response.content


@pytest.mark.parametrize("debug", [True, False])
def test_unhandled_error_is_json_500_without_the_environment(settings, debug, onboard, monkeypatch):
    """A bug in a view answers a bare JSON 500 even with DEBUG on: no traceback, no settings."""
    settings.DEBUG = debug
    tenant = onboard()

    def broken(**kwargs):
        raise RuntimeError("secret-ish internals /srv/app/settings.py")

    monkeypatch.setattr("tenants.apis.tenant_usage", broken)
    response = key_client(tenant.api_key).get(f"/api/v1/tenants/{tenant.tenant.id}/usage")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}
    assert b"DATABASE" not in response.content and b"settings.py" not in response.content


def test_admin_keeps_django_pages(client):
    """Only API paths are rewritten: the admin's own 404 stays Django's."""
    response = client.get("/admin/no-such-page/")
    assert response.status_code in (302, 404)
    assert not response.get("Content-Type", "").startswith("application/json")


def test_deep_json_is_400_not_recursion(onboard):
    """A body nested 1,000 deep is refused as too deep (it used to be a RecursionError 500)."""
    tenant = onboard()
    client = key_client(tenant.api_key)
    deep = "[" * 1000 + "]" * 1000
    for path in (
        f"/api/v1/pipelines/run/{tenant.tenant.id}/example/demo/hello",
        f"/api/v1/tenants/{tenant.tenant.id}/provider-configs",
    ):
        response = client.post(path, data=deep, content_type="application/json")
        assert response.status_code == 400, path
        assert "deeper than" in response.json()["detail"]
    nested = '{"a":' * 40 + "1" + "}" * 40
    response = client.post(
        f"/api/v1/tenants/{tenant.tenant.id}/provider-configs",
        data=nested,
        content_type="application/json",
    )
    assert response.status_code == 400 and "deeper than 32" in response.json()["detail"]


def test_broken_json_is_400_naming_the_problem(onboard):
    tenant = onboard()
    response = key_client(tenant.api_key).post(
        f"/api/v1/tenants/{tenant.tenant.id}/provider-configs",
        data='{"provider": NaN}',
        content_type="application/json",
    )
    assert response.status_code == 400 and "JSON parse error" in response.json()["detail"]
