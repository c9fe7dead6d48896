"""Realistic Stripe event bodies, shaped as Stripe sends them, for the demo command and tests."""

import hashlib
import json
import secrets
import time

API_VERSION = "2025-03-31.basil"
MONTH_SECONDS = 30 * 24 * 3600


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(18).replace('-', 'a').replace('_', 'b')}"


def demo_customer_id(tenant_id: str) -> str:
    """A stable customer id per tenant id, so later demo events reach the same tenant."""
    return "cus_demo" + hashlib.sha256(tenant_id.encode()).hexdigest()[:14]


def demo_subscription_id(tenant_id: str) -> str:
    return "sub_demo" + hashlib.sha256(tenant_id.encode()).hexdigest()[:14]


def _event(event_type: str, obj: dict, *, created: int | None, event_id: str | None, **extra):
    created = created or int(time.time())
    data = {"object": obj, **extra}
    return {
        "id": event_id or _id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def checkout_completed_event(
    *,
    tenant_id: str,
    company_name: str,
    email: str,
    price_id: str,
    customer_id: str,
    subscription_id: str,
    created: int | None = None,
    event_id: str | None = None,
) -> dict:
    """``checkout.session.completed`` for a paid subscription checkout; our checkout page
    puts the tenant id, company and price in the session's metadata."""
    created = created or int(time.time())
    session = {
        "id": _id("cs_test"),
        "object": "checkout.session",
        "amount_subtotal": 4900,
        "amount_total": 4900,
        "client_reference_id": tenant_id,
        "created": created - 60,
        "currency": "usd",
        "customer": customer_id,
        "customer_details": {"email": email, "name": company_name, "tax_exempt": "none"},
        "customer_email": email,
        "expires_at": created + 23 * 3600,
        "livemode": False,
        "metadata": {"tenant_id": tenant_id, "company_name": company_name, "price_id": price_id},
        "mode": "subscription",
        "payment_status": "paid",
        "status": "complete",
        "subscription": subscription_id,
    }
    return _event("checkout.session.completed", session, created=created, event_id=event_id)


def subscription_event(
    *,
    event_type: str,
    customer_id: str,
    subscription_id: str,
    price_id: str,
    status: str = "active",
    created: int | None = None,
    event_id: str | None = None,
    previous_attributes: dict | None = None,
) -> dict:
    """``customer.subscription.created|updated|deleted`` with one item on ``price_id``."""
    created = created or int(time.time())
    period_start = created - (created % MONTH_SECONDS)
    item = {
        "id": _id("si"),
        "object": "subscription_item",
        "current_period_start": period_start,
        "current_period_end": period_start + MONTH_SECONDS,
        "price": {"id": price_id, "object": "price", "currency": "usd", "type": "recurring"},
        "quantity": 1,
        "subscription": subscription_id,
    }
    subscription = {
        "id": subscription_id,
        "object": "subscription",
        "cancel_at_period_end": False,
        "canceled_at": created if status == "canceled" else None,
        "created": period_start,
        "currency": "usd",
        "customer": customer_id,
        "items": {"object": "list", "data": [item], "has_more": False},
        "livemode": False,
        "metadata": {},
        "status": status,
    }
    extra = {"previous_attributes": previous_attributes} if previous_attributes else {}
    return _event(event_type, subscription, created=created, event_id=event_id, **extra)


def invoice_event(
    *,
    event_type: str,
    customer_id: str,
    subscription_id: str,
    created: int | None = None,
    event_id: str | None = None,
) -> dict:
    """``invoice.payment_failed`` or ``invoice.paid`` for the subscription's renewal."""
    created = created or int(time.time())
    paid = event_type == "invoice.paid"
    invoice = {
        "id": _id("in"),
        "object": "invoice",
        "amount_due": 4900,
        "amount_paid": 4900 if paid else 0,
        "amount_remaining": 0 if paid else 4900,
        "attempt_count": 1,
        "billing_reason": "subscription_cycle",
        "created": created,
        "currency": "usd",
        "customer": customer_id,
        "livemode": False,
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": subscription_id},
        },
        "status": "paid" if paid else "open",
    }
    return _event(event_type, invoice, created=created, event_id=event_id)


def event_body(event: dict) -> str:
    """The body as Stripe sends it: pretty-printed JSON."""
    return json.dumps(event, indent=2)
