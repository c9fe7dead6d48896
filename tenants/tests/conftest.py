"""Fixtures for the tenants tests: onboarded tenants (with real datasets) and API clients."""

import uuid

import pytest
from rest_framework.test import APIClient

from tenants.services.audit import Actor
from tenants.services.onboarding import tenant_onboard


@pytest.fixture
def onboard(warehouse, db):
    """Onboard a tenant through the real service; its dataset is dropped afterwards."""
    made = []

    def _onboard(tenant_id: str | None = None, plan: str = "STARTER", **kwargs):
        tenant_id = tenant_id or f"t_{uuid.uuid4().hex[:10]}"
        onboarded = tenant_onboard(
            tenant_id=tenant_id,
            company_name=kwargs.pop("company_name", f"{tenant_id} Ltd"),
            admin_email=kwargs.pop("admin_email", f"admin+{tenant_id}@example.com"),
            plan_code=plan,
            actor=Actor.system("test"),
            **kwargs,
        )
        made.append(onboarded.dataset_id)
        return onboarded

    yield _onboard
    for dataset_id in made:
        warehouse.dataset_delete(dataset_id)


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def staff_client(admin_user):
    client = APIClient()
    client.force_login(admin_user)
    return client


def key_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    return client
