"""A budget on a FOCUS mapping's costs (the shipped OCI mapping), on the emulator."""

from decimal import Decimal

import pytest
from django.core import mail

from budgets.models import Budget, BudgetAlert
from budgets.selectors import budget_status
from budgets.services.budgets import budgets_evaluate
from costs.tests.conftest import focus_load, imports  # noqa: F401
from tenants.tests.conftest import key_client


@pytest.mark.django_db
def test_a_budget_on_the_oci_mappings_costs_alerts(
    onboard,
    imports,  # noqa: F811
    warehouse,
    django_capture_on_commit_callbacks,
):
    """`provider: oci` is accepted, counts the OCI mapping's FOCUS table only (47.65 USD on
    2023-11-13, not the AWS sample's costs beside it) and alerts when crossed; an unknown
    provider is a 400 naming the providers there are."""
    onboarded = onboard()
    tenant_id = onboarded.tenant.pk
    folder = imports / tenant_id
    folder.mkdir()
    for provider in ("aws", "oci"):
        focus_load(tenant_id, onboarded.dataset_id, provider, folder)
    client = key_client(onboarded.api_key)
    url = f"/api/v1/tenants/{tenant_id}/budgets"
    body = {
        "name": "oracle",
        "amount": "40.00",
        "provider": "oci",
        "thresholds": [{"kind": "actual", "percent": 100}],
    }
    response = client.post(url, body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["provider"] == "oci"
    refused = client.post(url, {**body, "name": "x", "provider": "nope"}, format="json")
    assert refused.status_code == 400
    assert "'nope' has no FOCUS costs here; providers: aws, azure" in refused.json()["detail"]
    assert "oci" in refused.json()["detail"]

    budget = Budget.objects.get(tenant_id=tenant_id, name="oracle")
    status = budget_status(budget=budget)
    assert str(status.as_of) == "2023-11-13"
    assert status.actual == Decimal("47.65")
    with django_capture_on_commit_callbacks(execute=True):
        alerts = budgets_evaluate(tenant_id=tenant_id)
    assert [(a.kind, a.percent) for a in alerts] == [(BudgetAlert.Kind.ACTUAL, 100)]
    assert [m.subject for m in mail.outbox if "actual cost at 119.1%" in m.subject], [
        m.subject for m in mail.outbox
    ]
