"""The webhook: only authentic, fresh Stripe deliveries are stored, each event once."""

import json
import time

import pytest
from django.core import mail
from django.test import Client

from billing.models import InvalidDelivery, StripeEvent, WelcomeEmail
from billing.stripe_client import webhook_signature_header
from billing.tests.conftest import SECRET, WEBHOOK_URL, checkout_event, new_tenant_id, post_signed
from tenants.models import ApiKey, Tenant
from tenants.services.keys import api_key_authenticate
from warehouse.bigquery import tenant_dataset_id

pytestmark = [pytest.mark.django_db, pytest.mark.urls("billing.tests.urls")]


def _nothing_created():
    assert StripeEvent.objects.count() == 0
    assert Tenant.objects.count() == 0


def test_valid_delivery_is_stored_and_acknowledged(django_capture_on_commit_callbacks):
    """A signed event answers 200 at once and is stored once, processing queued after commit."""
    event = checkout_event(new_tenant_id())
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_signed(event)
    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False}
    stored = StripeEvent.objects.get()
    assert (stored.event_id, stored.type, stored.status) == (
        event["id"],
        "checkout.session.completed",
        StripeEvent.Status.RECEIVED,
    )
    assert stored.stripe_customer_id == event["data"]["object"]["customer"]
    assert stored.payload == event
    assert len(callbacks) == 1  # the processing task, enqueued only once committed


def test_second_delivery_is_a_duplicate(django_capture_on_commit_callbacks):
    """Delivering the same event again answers 2xx, stores nothing and queues nothing."""
    event = checkout_event(new_tenant_id())
    post_signed(event)
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_signed(event)
    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": True}
    assert StripeEvent.objects.count() == 1
    assert callbacks == []


def test_one_byte_change_is_refused():
    """A body changed by one byte after signing: 400, an invalid delivery, nothing else."""
    response = post_signed(
        checkout_event(new_tenant_id()), tamper=lambda body: body.replace("4900", "4901", 1)
    )
    assert response.status_code == 400
    assert "Signature does not match" in response.json()["detail"]
    _nothing_created()
    invalid = InvalidDelivery.objects.get()
    assert invalid.had_signature is True
    assert len(invalid.body_sha256) == 64 and invalid.body_length > 0


def test_non_utf8_byte_is_refused():
    """A byte that breaks UTF-8 is refused like any other tampering, not a server error."""
    response = post_signed(
        checkout_event(new_tenant_id()), tamper=lambda body: body.encode() + b"\xff"
    )
    assert response.status_code == 400
    _nothing_created()
    assert InvalidDelivery.objects.count() == 1


def test_missing_signature_is_refused(client):
    """No Stripe-Signature header: 400, recorded as an unsigned invalid delivery."""
    response = client.post(WEBHOOK_URL, data="{}", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"] == "Invalid Stripe signature: Missing Stripe-Signature header."
    assert InvalidDelivery.objects.get().had_signature is False
    _nothing_created()


def test_wrong_secret_is_refused(settings):
    """An event signed with another endpoint's secret is refused."""
    event = checkout_event(new_tenant_id())
    settings.STRIPE_WEBHOOK_SECRET = "whsec_someone_else"
    body = json.dumps(event)
    header = webhook_signature_header(payload=body)
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    response = Client().post(
        WEBHOOK_URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert response.status_code == 400
    _nothing_created()


@pytest.mark.parametrize(
    ("offset", "reason"),
    [(-301, "tolerance zone"), (-3600, "tolerance zone"), (301, "future")],
)
def test_timestamp_outside_tolerance_is_refused(offset, reason):
    """A correctly signed event more than 300 s old (a replay) or in the future: 400."""
    response = post_signed(checkout_event(new_tenant_id()), timestamp=int(time.time()) + offset)
    assert response.status_code == 400
    assert reason in response.json()["detail"]
    _nothing_created()
    assert InvalidDelivery.objects.count() == 1


def test_timestamp_within_tolerance_is_accepted():
    """A delivery signed 200 s ago (Stripe's retries re-sign) is accepted."""
    response = post_signed(checkout_event(new_tenant_id()), timestamp=int(time.time()) - 200)
    assert response.status_code == 200


def test_signed_non_event_is_refused():
    """A signed body that is not a Stripe event object is refused and not stored."""
    response = post_signed('{"hello": "world"}')
    assert response.status_code == 400
    _nothing_created()


def test_unconfigured_secret_answers_503(settings):
    """Without a webhook secret nothing can be verified: 503 so Stripe retries later."""
    event = checkout_event(new_tenant_id())
    body = json.dumps(event)
    settings.STRIPE_WEBHOOK_SECRET = ""
    response = Client().post(
        WEBHOOK_URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE="t=1,v1=x"
    )
    assert response.status_code == 503
    _nothing_created()


def test_unknown_event_type_is_stored_and_ignored(eager_celery, django_capture_on_commit_callbacks):
    """An event type billing does not handle is kept and marked ignored."""
    event = checkout_event(new_tenant_id())
    event["type"] = "customer.tax_id.created"
    with django_capture_on_commit_callbacks(execute=True):
        assert post_signed(event).status_code == 200
    stored = StripeEvent.objects.get()
    assert stored.status == StripeEvent.Status.IGNORED
    assert "not handled" in stored.note


def test_checkout_signs_up_a_tenant(
    eager_celery, drop_datasets, warehouse, django_capture_on_commit_callbacks
):
    """checkout.session.completed makes a tenant, its dataset and one key, mailed once."""
    tenant_id = new_tenant_id()
    event = checkout_event(tenant_id)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_signed(event).status_code == 200
    tenant = Tenant.objects.get(pk=tenant_id)
    assert tenant.status == Tenant.Status.ACTIVE
    assert tenant.company_name == f"{tenant_id} Inc"
    assert tenant.admin_email == f"owner+{tenant_id}@example.com"
    assert tenant.stripe_customer_id == event["data"]["object"]["customer"]
    assert tenant.subscription.plan.code == "STARTER"
    assert tenant.subscription.stripe_subscription_id == event["data"]["object"]["subscription"]
    assert warehouse.dataset_exists(tenant_dataset_id(tenant_id))
    assert StripeEvent.objects.get().status == StripeEvent.Status.PROCESSED
    assert ApiKey.objects.filter(tenant=tenant).count() == 1

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [tenant.admin_email]
    key = next(word for word in message.body.split() if word.startswith(f"sk_{tenant_id}_"))
    assert api_key_authenticate(key).tenant_id == tenant_id
    assert key in message.alternatives[0][0]
    assert WelcomeEmail.objects.get(tenant=tenant).status == WelcomeEmail.Status.SENT
