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
        ({"livemode": False, "request": {"id": "req_\x00"}}, "JSON at request.id holds a NUL"),
        ({"id": "evt_\ud800"}, "JSON at id holds a lone surrogate (U+D800)"),
        ({"type": "checkout.session.\udc00"}, "JSON at type holds a lone surrogate (U+DC00)"),
        ({"data": {"object": {"customer": "cus_\udbff"}}}, "JSON at data.object.customer holds"),
        ({"data": {"object": {"\ud800": 1}}}, "JSON at data.object has a key holding a lone"),
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


@pytest.mark.parametrize(
    ("number", "where"),
    [("1e999", "livemode"), ("-1e999", "data.object.amount_total"), ("1E400", "request")],
)
def test_signed_event_with_a_number_beyond_a_float_is_400_and_not_stored(number, where):
    """1e999 reads as infinity: the store's JSON check failed (IntegrityError), then the
    look-up for the "duplicate" found nothing (DoesNotExist): a 500 Stripe retries for days."""
    event = checkout_event(new_tenant_id())
    *parents, name = where.split(".")
    target = event
    for parent in parents:
        target = target[parent]
    target[name] = "NUMBER"
    body = json.dumps(event).replace('"NUMBER"', number)
    response = post_signed(body)
    assert response.status_code == 400, response.content
    assert response.json()["detail"] == (
        f"Invalid Stripe event: JSON at {where} is a number out of range (not finite)."
    )
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
