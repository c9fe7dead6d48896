"""Bad input to the tenants API: unknown fields, wrong JSON types, past expiries — all 400s
that name the field and create nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tenants.models import ApiKey, ProviderConfig, Tenant
from tenants.tests.conftest import key_client

pytestmark = pytest.mark.django_db


def test_onboard_with_subscription_plan_is_refused_naming_plan(staff_client):
    """``subscription_plan`` instead of ``plan`` used to onboard on STARTER silently."""
    response = staff_client.post(
        "/api/v1/tenants/onboard",
        {
            "tenant_id": "alias_co",
            "company_name": "Alias Co",
            "admin_email": "a@example.com",
            "subscription_plan": "SCALE",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "subscription_plan" in response.json()["detail"]
    assert "'plan'" in response.json()["detail"]
    assert not Tenant.objects.filter(pk="alias_co").exists()


@pytest.mark.parametrize("expires_at", ["2000-01-01T00:00:00Z", "past"])
def test_key_cannot_be_issued_already_expired(onboard, staff_client, expires_at):
    tenant = onboard()
    if expires_at == "past":
        expires_at = (timezone.now() - timedelta(seconds=5)).isoformat()
    before = ApiKey.objects.count()
    for client, path, body in (
        (key_client(tenant.api_key), f"/api/v1/tenants/{tenant.tenant.id}/api-keys", {}),
        (staff_client, "/api/v1/admin/api-keys", {"tenant_id": tenant.tenant.id}),
    ):
        response = client.post(path, {**body, "expires_at": expires_at}, format="json")
        assert response.status_code == 400, response.json()
        assert response.json()["detail"] == "expires_at: Must be in the future."
    assert ApiKey.objects.count() == before


def test_key_with_future_expiry_is_issued(onboard):
    tenant = onboard()
    expires = (timezone.now() + timedelta(days=1)).isoformat()
    response = key_client(tenant.api_key).post(
        f"/api/v1/tenants/{tenant.tenant.id}/api-keys", {"expires_at": expires}, format="json"
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 0}, "name"),
        ({"name": "ok", "colour": "red"}, "colour"),
        ({"name": True}, "name"),
    ],
)
def test_key_issue_refuses_wrong_types_and_unknown_fields(onboard, body, field):
    tenant = onboard()
    response = key_client(tenant.api_key).post(
        f"/api/v1/tenants/{tenant.tenant.id}/api-keys", body, format="json"
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith(field)
    assert ApiKey.objects.filter(tenant=tenant.tenant).count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"provider": "aws", "settings": {"bucket": 5}}, "settings"),
        ({"provider": "aws", "settings": {"bucket": {"x": "y"}}}, "settings"),
        ({"provider": "", "settings": {}}, "provider"),
        ({"provider": "aws", "credential_id": 2**70}, "credential_id"),
        ({"provider": "aws", "credential_id": "1"}, "credential_id"),
        ({"provider": "aws", "notification_emails": "a@example.com"}, "notification_emails"),
    ],
)
def test_provider_config_refuses_bad_values(onboard, body, field):
    tenant = onboard()
    response = key_client(tenant.api_key).post(
        f"/api/v1/tenants/{tenant.tenant.id}/provider-configs", body, format="json"
    )
    assert response.status_code == 400, response.json()
    assert response.json()["detail"].startswith(field)
    assert not ProviderConfig.objects.filter(tenant=tenant.tenant).exists()


def test_provider_config_answers_201(onboard):
    tenant = onboard()
    response = key_client(tenant.api_key).post(
        f"/api/v1/tenants/{tenant.tenant.id}/provider-configs",
        {"provider": "aws", "settings": {"bucket": "x"}},
        format="json",
    )
    assert response.status_code == 201, response.json()
