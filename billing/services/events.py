"""Processing stored Stripe events: sign-up, plan and status changes, each idempotent."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from django.db import transaction
from django.utils import timezone

from billing.errors import BillingError
from billing.models import PlanPrice, StripeEvent, WelcomeEmail
from billing.services.emails import email_payment_failed_send, email_welcome_send
from billing.stripe_client import StripeUnavailable, api_configured, checkout_session_price_ids
from tenants.errors import ProvisioningFailed, TenantAlreadyExists, TenantError
from tenants.models import Plan, Subscription, Tenant
from tenants.services.audit import Actor
from tenants.services.lifecycle import subscription_sync, tenant_status_set
from tenants.services.onboarding import tenant_onboard

logger = logging.getLogger(__name__)

Status = StripeEvent.Status
# Every status Billing sets carries this reason prefix, so a staff suspension (any other
# reason) is never lifted by a payment.
REASON_PREFIX = "Stripe: "
# Errors worth retrying with backoff: an outside system was down.
TRANSIENT_ERRORS = (ProvisioningFailed, StripeUnavailable)

# Stripe subscription status → (tenant status, subscription status).
SUBSCRIPTION_STATUSES = {
    "trialing": (Tenant.Status.TRIAL, Subscription.Status.TRIALING),
    "active": (Tenant.Status.ACTIVE, Subscription.Status.ACTIVE),
    "past_due": (Tenant.Status.PAST_DUE, Subscription.Status.PAST_DUE),
    "incomplete": (Tenant.Status.PAST_DUE, Subscription.Status.PAST_DUE),
    "unpaid": (Tenant.Status.SUSPENDED, Subscription.Status.PAST_DUE),
    "paused": (Tenant.Status.SUSPENDED, Subscription.Status.PAST_DUE),
    "canceled": (Tenant.Status.CANCELLED, Subscription.Status.CANCELED),
    "incomplete_expired": (Tenant.Status.CANCELLED, Subscription.Status.CANCELED),
}


class EventRetryable(Exception):
    """Processing failed for a reason that may pass (an outside system was down)."""


@dataclass(frozen=True)
class Outcome:
    status: str
    note: str = ""


def _ts(value) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def _actor(event: StripeEvent) -> Actor:
    return Actor.system(f"stripe:{event.event_id}")


def plan_for_price(*, price_id: str) -> Plan:
    """The plan a Stripe price buys, from the admin-edited mapping."""
    mapping = PlanPrice.objects.select_related("plan").filter(stripe_price_id=price_id).first()
    if mapping is None:
        raise BillingError(f"No plan is mapped to Stripe price {price_id!r}; add it in the admin.")
    return mapping.plan


def _tenant_for_customer(customer_id: str) -> Tenant | None:
    if not customer_id:
        return None
    return Tenant.objects.filter(stripe_customer_id=customer_id).first()


def _billing_may_set_status(tenant: Tenant) -> bool:
    """A staff suspension stands until staff lift it, whatever Stripe says."""
    return tenant.status != Tenant.Status.SUSPENDED or tenant.status_reason.startswith(
        REASON_PREFIX
    )


def _status_set(tenant: Tenant, status: str, event: StripeEvent) -> bool:
    if tenant.status == status or not _billing_may_set_status(tenant):
        return False
    tenant_status_set(
        tenant=tenant, status=status, actor=_actor(event), reason=f"{REASON_PREFIX}{event.type}"
    )
    return True


def _subscription_locked(tenant: Tenant, event: StripeEvent) -> Subscription | None:
    """The tenant's subscription, locked; None when the event is older than its state."""
    subscription = Subscription.objects.select_for_update().get(tenant=tenant)
    if subscription.state_as_of and event.created < subscription.state_as_of:
        return None
    return subscription


# Handlers. Each returns an Outcome, raises BillingError for a problem staff must fix, or a
# transient error to be retried. They run inside the transaction that holds the event's lock.


def _checkout_completed(event: StripeEvent) -> Outcome:
    session = event.data_object
    metadata = session.get("metadata") or {}
    customer_id = event.stripe_customer_id
    tenant_id = str(metadata.get("tenant_id") or "").strip()
    if not customer_id:
        raise BillingError("The checkout session has no customer.")
    if not tenant_id:
        raise BillingError("The checkout session has no metadata.tenant_id.")
    existing = _tenant_for_customer(customer_id) or Tenant.objects.filter(pk=tenant_id).first()
    if existing is not None:
        if existing.stripe_customer_id == customer_id:
            return Outcome(Status.PROCESSED, f"Tenant {existing.id} was already onboarded.")
        raise BillingError(
            f"Customer {customer_id} cannot onboard: tenant {existing.id!r} belongs to "
            f"customer {existing.stripe_customer_id or '(none)'}."
        )
    email = (session.get("customer_details") or {}).get("email") or session.get("customer_email")
    if not email:
        raise BillingError("The checkout session has no customer email.")
    plan = plan_for_price(price_id=_checkout_price_id(session, metadata))
    subscription_id = session.get("subscription") or ""
    if isinstance(subscription_id, dict):
        subscription_id = subscription_id.get("id") or ""
    paid = session.get("payment_status") == "paid"

    try:
        onboarded = tenant_onboard(
            tenant_id=tenant_id,
            company_name=str(metadata.get("company_name") or metadata.get("company") or tenant_id),
            admin_email=email,
            plan_code=plan.code,
            actor=_actor(event),
            status=Tenant.Status.ACTIVE if paid else Tenant.Status.TRIAL,
            stripe_customer_id=customer_id,
            stripe_subscription_id=subscription_id,
            period_start=event.created,
        )
    except ProvisioningFailed:
        raise
    except TenantAlreadyExists as exc:
        # Another delivery of this sign-up (a different event id) won the race.
        if Tenant.objects.filter(pk=tenant_id, stripe_customer_id=customer_id).exists():
            return Outcome(Status.PROCESSED, f"Tenant {tenant_id} was already onboarded.")
        raise BillingError(f"Onboarding refused: {exc}") from exc
    except TenantError as exc:
        raise BillingError(f"Onboarding refused: {exc}") from exc
    subscription_sync(
        subscription=onboarded.tenant.subscription, actor=_actor(event), as_of=event.created
    )
    # Created with the tenant, in one transaction: only the run that onboarded holds the key,
    # so only it sends. The key is never stored, so if sending fails after this commits the
    # email is marked FAILED and the fix is a new key (admin), not a resend.
    welcome = WelcomeEmail.objects.create(tenant=onboarded.tenant, event=event, recipient=email)
    transaction.on_commit(
        partial(_welcome_send, welcome_pk=welcome.pk, api_key=onboarded.api_key), robust=True
    )
    transaction.on_commit(partial(_deferred_enqueue, customer_id=customer_id), robust=True)
    return Outcome(Status.PROCESSED, f"Tenant {tenant_id} onboarded on {plan.code}.")


def _checkout_price_id(session: dict, metadata: dict) -> str:
    """The price bought: from Stripe's line items when the API is configured, else metadata."""
    items = (session.get("line_items") or {}).get("data") or []
    prices = [((item.get("price") or {}).get("id")) for item in items]
    if not any(prices) and api_configured() and session.get("id"):
        prices = checkout_session_price_ids(session_id=session["id"])
    price_id = next((p for p in prices if p), None) or metadata.get("price_id")
    if not price_id:
        raise BillingError("Cannot tell which price was bought: no line items, no metadata.")
    return str(price_id)


def _welcome_send(*, welcome_pk: int, api_key: str) -> None:
    welcome = WelcomeEmail.objects.select_related("tenant__subscription__plan").get(pk=welcome_pk)
    if welcome.status != WelcomeEmail.Status.PENDING:
        return
    try:
        email_welcome_send(tenant=welcome.tenant, api_key=api_key, recipient=welcome.recipient)
    except Exception as exc:  # any backend failure: recorded, the key is not kept for a retry
        logger.exception("welcome email for tenant %s failed", welcome.tenant_id)
        WelcomeEmail.objects.filter(pk=welcome_pk).update(
            status=WelcomeEmail.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:300]
        )
        return
    WelcomeEmail.objects.filter(pk=welcome_pk).update(
        status=WelcomeEmail.Status.SENT, sent_at=timezone.now()
    )


def _deferred_enqueue(*, customer_id: str) -> None:
    """Queue the customer's events that arrived before its tenant, oldest first."""
    from billing.tasks import stripe_event_process_task  # the tasks module imports these services

    pks = StripeEvent.objects.filter(
        stripe_customer_id=customer_id, status=Status.DEFERRED
    ).order_by("created", "id")
    for pk in pks.values_list("pk", flat=True):
        stripe_event_process_task.delay(pk)


def _defer(event: StripeEvent) -> Outcome:
    """Keep the event until its tenant exists. Checked again after commit, so an event
    deferred while the tenant's onboarding was committing is not left behind."""
    customer_id = event.stripe_customer_id

    def recheck() -> None:
        if _tenant_for_customer(customer_id) is not None:
            _deferred_enqueue(customer_id=customer_id)

    transaction.on_commit(recheck, robust=True)
    return Outcome(Status.DEFERRED, f"No tenant for customer {customer_id or '(none)'} yet.")


def _subscription_changed(event: StripeEvent) -> Outcome:
    obj = event.data_object
    tenant = _tenant_for_customer(event.stripe_customer_id)
    if tenant is None:
        return _defer(event)
    subscription = _subscription_locked(tenant, event)
    if subscription is None:
        return Outcome(Status.IGNORED, "Older than the subscription's current state.")
    deleted = event.type == "customer.subscription.deleted"
    stripe_status = "canceled" if deleted else str(obj.get("status") or "")
    if stripe_status not in SUBSCRIPTION_STATUSES:
        raise BillingError(f"Unknown Stripe subscription status {stripe_status!r}.")
    tenant_status, subscription_status = SUBSCRIPTION_STATUSES[stripe_status]

    items = (obj.get("items") or {}).get("data") or []
    first = items[0] if items else {}
    price_id = (first.get("price") or {}).get("id")
    # Newer API versions keep the period on the item, older ones on the subscription.
    start = _ts(obj.get("current_period_start") or first.get("current_period_start"))
    end = _ts(obj.get("current_period_end") or first.get("current_period_end"))
    subscription_sync(
        subscription=subscription,
        actor=_actor(event),
        as_of=event.created,
        plan=plan_for_price(price_id=price_id) if price_id and not deleted else None,
        status=subscription_status,
        stripe_subscription_id=str(obj.get("id") or ""),
        period=(start, end) if start and end and end > start else None,
    )
    _status_set(tenant, tenant_status, event)
    return Outcome(
        Status.PROCESSED, f"{tenant.id}: plan {subscription.plan.code}, {subscription_status}."
    )


def _payment_failed(event: StripeEvent) -> Outcome:
    tenant = _tenant_for_customer(event.stripe_customer_id)
    if tenant is None:
        return _defer(event)
    subscription = _subscription_locked(tenant, event)
    if subscription is None:
        return Outcome(Status.IGNORED, "Older than the subscription's current state.")
    if tenant.status == Tenant.Status.CANCELLED:
        return Outcome(Status.IGNORED, "The subscription is cancelled.")
    subscription_sync(
        subscription=subscription,
        actor=_actor(event),
        as_of=event.created,
        status=Subscription.Status.PAST_DUE,
    )
    if _status_set(tenant, Tenant.Status.PAST_DUE, event):
        transaction.on_commit(partial(_payment_failed_notify, tenant_pk=tenant.pk), robust=True)
    return Outcome(Status.PROCESSED, f"{tenant.id}: past due.")


def _payment_failed_notify(*, tenant_pk: str) -> None:
    email_payment_failed_send(tenant=Tenant.objects.get(pk=tenant_pk))


def _invoice_paid(event: StripeEvent) -> Outcome:
    tenant = _tenant_for_customer(event.stripe_customer_id)
    if tenant is None:
        return _defer(event)
    subscription = _subscription_locked(tenant, event)
    if subscription is None:
        return Outcome(Status.IGNORED, "Older than the subscription's current state.")
    # A paid invoice restores what a failed payment took; it does not end a trial or revive
    # a cancelled subscription (Stripe says those with subscription events).
    restorable = tenant.status == Tenant.Status.PAST_DUE or (
        tenant.status == Tenant.Status.SUSPENDED and tenant.status_reason.startswith(REASON_PREFIX)
    )
    subscription_sync(
        subscription=subscription,
        actor=_actor(event),
        as_of=event.created,
        status=Subscription.Status.ACTIVE if restorable else None,
    )
    if restorable:
        _status_set(tenant, Tenant.Status.ACTIVE, event)
        return Outcome(Status.PROCESSED, f"{tenant.id}: active again.")
    return Outcome(Status.PROCESSED, f"{tenant.id}: nothing to restore ({tenant.status}).")


HANDLERS: dict[str, Callable[[StripeEvent], Outcome]] = {
    "checkout.session.completed": _checkout_completed,
    "customer.subscription.created": _subscription_changed,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
    "invoice.payment_failed": _payment_failed,
    "invoice.paid": _invoice_paid,
}
HANDLED_TYPES = sorted(HANDLERS)


def stripe_event_process(*, event_pk: int, force: bool = False) -> StripeEvent | None:
    """Apply a stored event once. The event row is locked while it is handled, so two workers
    (or a retry and a reprocess) never both apply it; a done event is left alone unless
    ``force``. Raises EventRetryable after recording a failure that may pass.
    """
    retry: Exception | None = None
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().filter(pk=event_pk).first()
        if event is None or (event.status in StripeEvent.DONE and not force):
            return event
        event.attempts += 1
        handler = HANDLERS.get(event.type)
        try:
            with transaction.atomic():
                outcome = (
                    handler(event)
                    if handler
                    else Outcome(Status.IGNORED, f"Event type {event.type} is not handled.")
                )
        except BillingError as exc:
            outcome = Outcome(Status.FAILED, str(exc))
        except TRANSIENT_ERRORS as exc:
            outcome, retry = Outcome(Status.FAILED, f"{type(exc).__name__}: {exc}"), exc
        except Exception as exc:  # a bug: recorded on the event for staff, not retried
            logger.exception("stripe event %s failed", event.event_id)
            outcome = Outcome(Status.FAILED, f"{type(exc).__name__}: {exc}")
        event.status = outcome.status
        event.error = outcome.note if outcome.status == Status.FAILED else ""
        event.note = "" if outcome.status == Status.FAILED else outcome.note[:300]
        event.processed_at = timezone.now() if outcome.status in StripeEvent.DONE else None
        event.save(update_fields=["status", "error", "note", "attempts", "processed_at"])
    logger.info("stripe event %s %s: %s", event.event_id, event.status, outcome.note)
    if retry is not None:
        raise EventRetryable(str(retry)) from retry
    return event


def stripe_event_reprocess(*, event: StripeEvent) -> StripeEvent | None:
    """Apply an event again (admin action); handlers are idempotent, so this is safe."""
    try:
        return stripe_event_process(event_pk=event.pk, force=True)
    except EventRetryable:
        event.refresh_from_db()
        return event
