"""The billing admin: events listed with their payload, and reprocessed on request."""

import pytest
from django.urls import reverse

from billing.models import PlanPrice, StripeEvent
from billing.services.webhooks import stripe_event_store
from billing.tests.conftest import checkout_event, new_tenant_id

pytestmark = pytest.mark.django_db


def test_event_list_and_detail_show_type_status_error_and_payload(admin_client):
    """Staff see every event's type, status and error, and its full payload."""
    stored = stripe_event_store(data=checkout_event(new_tenant_id()), enqueue=False).event
    StripeEvent.objects.filter(pk=stored.pk).update(status="FAILED", error="No plan for price_x")
    listing = admin_client.get(reverse("admin:billing_stripeevent_changelist"))
    assert listing.status_code == 200
    assert stored.event_id in listing.text and "No plan for price_x" in listing.text
    detail = admin_client.get(reverse("admin:billing_stripeevent_change", args=[stored.pk]))
    assert detail.status_code == 200
    assert "checkout.session.completed" in detail.text and "price_local_starter" in detail.text


def test_reprocess_action_applies_a_failed_event(admin_client, django_capture_on_commit_callbacks):
    """The reprocess action runs the handler again and reports the outcome."""
    event = checkout_event(new_tenant_id())
    event["type"] = "customer.discount.created"
    stored = stripe_event_store(data=event, enqueue=False).event
    StripeEvent.objects.filter(pk=stored.pk).update(status="FAILED", error="boom")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:billing_stripeevent_changelist"),
            {"action": "reprocess", "_selected_action": [stored.pk]},
            follow=True,
        )
    assert "Reprocessed: 1 IGNORED." in response.text
    stored.refresh_from_db()
    assert (stored.status, stored.error, stored.attempts) == ("IGNORED", "", 1)


def test_plan_prices_are_seeded_and_editable(admin_client):
    """Each plan has a seeded price mapping, editable in the admin."""
    assert set(PlanPrice.objects.values_list("plan__code", flat=True)) == {
        "STARTER",
        "PROFESSIONAL",
        "SCALE",
    }
    price = PlanPrice.objects.get(stripe_price_id="price_local_starter")
    url = reverse("admin:billing_planprice_change", args=[price.pk])
    response = admin_client.post(
        url, {"stripe_price_id": "price_live_1", "plan": price.plan_id, "description": "live"}
    )
    assert response.status_code == 302
    price.refresh_from_db()
    assert price.stripe_price_id == "price_live_1"
