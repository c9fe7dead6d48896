"""The budgets API: create, list, status, delete, anomalies and the webhook, per tenant."""

import datetime as dt

from budgets.models import Budget, WebhookEndpoint
from budgets.tests.conftest import focus_days_write
from tenants.tests.conftest import key_client


def test_budget_create_list_status_delete(onboard, warehouse):
    """A tenant creates a budget, sees it with its current status, and deletes it."""
    onboarded = onboard()
    client = key_client(onboarded.api_key)
    base = f"/api/v1/tenants/{onboarded.tenant.pk}/budgets"
    focus_days_write(
        warehouse,
        onboarded.dataset_id,
        start=dt.date(2024, 5, 1),
        end=dt.date(2024, 5, 10),
        daily=10,
    )

    created = client.post(
        base,
        {
            "name": "aws",
            "amount": "500",
            "provider": "aws",
            "thresholds": [{"kind": "forecast", "percent": 100}, {"kind": "actual", "percent": 50}],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    budget_id = created.json()["id"]
    assert [b["name"] for b in client.get(base).json()] == ["aws"]

    detail = client.get(f"{base}/{budget_id}").json()
    assert detail["status"]["as_of"] == "2024-05-10"
    assert detail["status"]["actual"] == "100.00"
    assert detail["status"]["forecast"] == "310.00"

    gcp = client.post(
        base,
        {
            "name": "gcp",
            "amount": "500",
            "provider": "gcp",
            "thresholds": [{"kind": "actual", "percent": 50}],
        },
        format="json",
    ).json()
    # A provider filter reads that provider's FOCUS table only (there is no GCP one).
    assert client.get(f"{base}/{gcp['id']}").json()["status"]["actual"] == "0.00"

    assert client.delete(f"{base}/{budget_id}").status_code == 204
    assert not Budget.objects.filter(pk=budget_id).exists()


def test_bad_budgets_are_400_naming_the_field(onboard):
    """Bad input answers 400 with the field named, and saves nothing."""
    onboarded = onboard()
    client = key_client(onboarded.api_key)
    base = f"/api/v1/tenants/{onboarded.tenant.pk}/budgets"
    cases = [
        ({"name": "x", "amount": "0", "thresholds": [{"kind": "actual", "percent": 80}]}, "amount"),
        ({"name": "x", "amount": "10", "thresholds": []}, "thresholds"),
        # Money is a decimal string as the schema says: no number, no sign, two decimals.
        ({"name": "x", "amount": 10, "thresholds": [{"kind": "actual", "percent": 8}]}, "amount"),
        ({"name": "x", "amount": "-5", "thresholds": [{"kind": "actual", "percent": 8}]}, "amount"),
        (
            {"name": "x", "amount": "1.005", "thresholds": [{"kind": "actual", "percent": 8}]},
            "amount",
        ),
        ({"name": "x", "amount": " 5", "thresholds": [{"kind": "actual", "percent": 8}]}, "amount"),
        ({"name": "x", "amount": ".", "thresholds": [{"kind": "actual", "percent": 8}]}, "amount"),
        (
            {
                "name": "x",
                "amount": "100000000000",
                "thresholds": [{"kind": "actual", "percent": 8}],
            },
            "amount",
        ),
        ({"name": "x", "amount": "10", "thresholds": [{"kind": "p", "percent": 8}]}, "thresholds"),
        (
            {
                "name": "x",
                "amount": "10",
                "period": "weekly",
                "thresholds": [{"kind": "actual", "percent": 8}],
            },
            "period",
        ),
        (
            {
                "name": "x",
                "amount": "10",
                "tag_key": "team",
                "thresholds": [{"kind": "actual", "percent": 8}],
            },
            "tag_key",
        ),
    ]
    for body, field in cases:
        response = client.post(base, body, format="json")
        assert response.status_code == 400, body
        assert field in str(response.json()), response.json()
    assert not Budget.objects.filter(tenant=onboarded.tenant).exists()


def test_a_second_budget_of_the_same_name_is_409(onboard):
    """A name the tenant already uses conflicts with the state (409), as the schema says."""
    onboarded = onboard()
    client = key_client(onboarded.api_key)
    base = f"/api/v1/tenants/{onboarded.tenant.pk}/budgets"
    body = {
        "name": "ops",
        "amount": "99999999999.99",
        "thresholds": [{"kind": "actual", "percent": 8}],
    }
    assert client.post(base, body, format="json").status_code == 201
    again = client.post(base, body, format="json")
    assert again.status_code == 409
    assert again.json()["detail"] == "a budget named 'ops' exists"
    assert Budget.objects.filter(tenant=onboarded.tenant).count() == 1


def test_webhook_secret_is_shown_once(onboard, dns):
    """PUT returns the signing secret; GET shows the URL only; the stored secret is encrypted."""
    dns["hooks.example.com"] = ["93.184.215.14"]
    onboarded = onboard()
    client = key_client(onboarded.api_key)
    url = f"/api/v1/tenants/{onboarded.tenant.pk}/webhook"

    put = client.put(url, {"url": "https://hooks.example.com/c"}, format="json").json()
    got = client.get(url).json()

    assert put["secret"].startswith("whsec_")
    assert got == {"url": "https://hooks.example.com/c"}
    stored = WebhookEndpoint.objects.get(tenant=onboarded.tenant)
    assert put["secret"].encode() not in bytes(stored.ciphertext)
    assert client.put(url, {"url": "ftp://x"}, format="json").status_code == 400


def test_anomalies_list_is_empty_before_any_run(onboard):
    """A tenant with no anomaly table yet gets an empty list, not an error."""
    onboarded = onboard()
    client = key_client(onboarded.api_key)
    response = client.get(f"/api/v1/tenants/{onboarded.tenant.pk}/anomalies")
    assert response.status_code == 200
    assert response.json() == []
