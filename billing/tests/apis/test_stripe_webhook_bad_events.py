"""Correctly signed but malformed events: a 400 naming the field, counted, nothing stored."""

import json

import pytest

from billing.models import InvalidDelivery, StripeEvent
from billing.tests.conftest import checkout_event, new_tenant_id, post_signed

pytestmark = [pytest.mark.django_db, pytest.mark.urls("billing.tests.urls")]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"created": "abc"}, "created"),
        ({"created": 1e20}, "created"),
        ({"created": 10**20}, "created"),
        ({"created": -1}, "created"),
        ({"created": True}, "created"),
        ({"id": "evt_" + "x" * 400}, "id"),
        ({"id": 12345}, "id"),
        ({"id": ""}, "id"),
        ({"type": ["checkout.session.completed"]}, "type"),
        ({"type": ""}, "type"),
        ({"type": None}, "type"),
        ({"data": []}, "data.object"),
        ({"data": None}, "data.object"),
        ({"data": {"object": None}}, "data.object"),
        ({"data": {"object": "customer"}}, "data.object"),
        ({"data": {"object": {"id": 7}}}, "data.object.id"),
        ({"livemode": False, "request": {"id": "req_\x00"}}, "The event holds a NUL"),
    ],
)
def test_malformed_signed_event_is_400_and_not_stored(change, field):
    """These used to be 500s, which Stripe retries for days."""
    event = {**checkout_event(new_tenant_id()), **change}
    response = post_signed(event)
    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith(f"Invalid Stripe event: {field}")
    assert not StripeEvent.objects.exists()
    assert InvalidDelivery.objects.count() == 1


def test_overlong_customer_id_is_400():
    event = checkout_event(new_tenant_id())
    event["data"]["object"]["customer"] = "cus_" + "x" * 300
    response = post_signed(event)
    assert response.status_code == 400
    assert "customer id" in response.json()["detail"]
    assert not StripeEvent.objects.exists()


def test_deep_signed_body_is_400():
    event = checkout_event(new_tenant_id())
    event["data"]["object"]["metadata"] = json.loads('{"a":' * 200 + "1" + "}" * 200)
    response = post_signed(json.dumps(event))
    assert response.status_code == 400
    assert "deeper than" in response.json()["detail"]
    assert not StripeEvent.objects.exists()


def test_a_flood_of_invalid_deliveries_is_counted_in_one_row(client):
    """Refused deliveries are counted per hour, reason and address, not stored one row each."""
    from billing.tests.conftest import WEBHOOK_URL

    for _ in range(5):
        response = client.post(WEBHOOK_URL, data="{}", content_type="application/json")
        assert response.status_code == 400
    row = InvalidDelivery.objects.get()
    assert row.count == 5 and row.had_signature is False
    assert row.reason == "Missing Stripe-Signature header."
    post_signed(checkout_event(new_tenant_id()), tamper=lambda body: body + " ")
    assert InvalidDelivery.objects.count() == 2
