"""Fixtures for the billing tests: a webhook secret, signed deliveries, eager Celery."""

import time
import uuid

import pytest
from django.test import Client

from billing import demo_events
from billing.stripe_client import webhook_signature_header
from convergence.celery import app as celery_app
from tenants.models import Tenant

SECRET = "whsec_test_0123456789abcdef"
WEBHOOK_URL = "/api/v1/billing/stripe/webhook"


@pytest.fixture(autouse=True)
def _stripe_settings(settings):
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_API_BASE = ""


@pytest.fixture
def eager_celery():
    """Tasks run in the calling thread, as a worker would run them."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def post_signed(
    event_or_body: dict | str,
    *,
    timestamp: int | None = None,
    client: Client | None = None,
    tamper=None,
):
    """POST an event to the webhook signed as Stripe signs it; ``tamper`` edits the body after
    signing."""
    body = (
        event_or_body if isinstance(event_or_body, str) else demo_events.event_body(event_or_body)
    )
    header = webhook_signature_header(payload=body, timestamp=timestamp or int(time.time()))
    if tamper is not None:
        body = tamper(body)
    return (client or Client()).post(
        WEBHOOK_URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )


def new_tenant_id() -> str:
    return f"b_{uuid.uuid4().hex[:10]}"


def checkout_event(tenant_id: str, *, plan_price: str = "price_local_starter", **kwargs) -> dict:
    return demo_events.checkout_completed_event(
        tenant_id=tenant_id,
        company_name=f"{tenant_id} Inc",
        email=f"owner+{tenant_id}@example.com",
        price_id=plan_price,
        customer_id=demo_events.demo_customer_id(tenant_id),
        subscription_id=demo_events.demo_subscription_id(tenant_id),
        **kwargs,
    )


def subscription_event(tenant_id: str, *, price: str, status: str = "active", **kwargs) -> dict:
    return demo_events.subscription_event(
        event_type=kwargs.pop("event_type", "customer.subscription.updated"),
        customer_id=demo_events.demo_customer_id(tenant_id),
        subscription_id=demo_events.demo_subscription_id(tenant_id),
        price_id=price,
        status=status,
        **kwargs,
    )


def invoice_event(tenant_id: str, event_type: str, **kwargs) -> dict:
    return demo_events.invoice_event(
        event_type=event_type,
        customer_id=demo_events.demo_customer_id(tenant_id),
        subscription_id=demo_events.demo_subscription_id(tenant_id),
        **kwargs,
    )


@pytest.fixture
def drop_datasets(warehouse):
    """Drops the datasets of tenants created by the test (onboarding makes real ones)."""
    yield
    for dataset_id in Tenant.objects.values_list("dataset_id", flat=True):
        warehouse.dataset_delete(dataset_id)
