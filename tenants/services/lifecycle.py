"""Tenant status changes: suspend, reactivate, and the states billing drives."""

from datetime import datetime

from django.db import transaction

from tenants.models import Plan, Subscription, Tenant
from tenants.services.audit import Actor, audit_record


def tenant_status_set(*, tenant: Tenant, status: str, actor: Actor, reason: str = "") -> Tenant:
    """Set the status; data and keys are kept, only runs are refused outside TRIAL/ACTIVE."""
    if status not in Tenant.Status.values:
        raise ValueError(f"Unknown tenant status {status!r}")
    with transaction.atomic():
        previous = tenant.status
        tenant.status = status
        tenant.status_reason = reason[:200]
        tenant.save(update_fields=["status", "status_reason", "updated_at"])
        audit_record(
            actor=actor,
            action="tenant.status",
            tenant_id=tenant.id,
            target=tenant.id,
            details={"from": previous, "to": status, "reason": reason},
        )
    return tenant


def tenant_suspend(*, tenant: Tenant, actor: Actor, reason: str = "Suspended by staff") -> Tenant:
    return tenant_status_set(
        tenant=tenant, status=Tenant.Status.SUSPENDED, actor=actor, reason=reason
    )


def tenant_reactivate(*, tenant: Tenant, actor: Actor) -> Tenant:
    return tenant_status_set(tenant=tenant, status=Tenant.Status.ACTIVE, actor=actor)


def subscription_sync(
    *,
    subscription: Subscription,
    actor: Actor,
    as_of: datetime,
    plan: Plan | None = None,
    status: str | None = None,
    stripe_subscription_id: str | None = None,
    period: tuple[datetime, datetime] | None = None,
) -> Subscription:
    """Apply what the billing provider says of a subscription, as of the event's time.

    The caller holds the row lock and has checked that ``as_of`` is newer than
    ``state_as_of``, so an older event never overwrites newer state.
    """
    changes: dict = {"state_as_of": as_of}
    if plan is not None:
        changes["plan"] = plan
    if status is not None:
        changes["status"] = status
    if stripe_subscription_id:
        changes["stripe_subscription_id"] = stripe_subscription_id
    if period is not None:
        changes["current_period_start"], changes["current_period_end"] = period
    with transaction.atomic():
        for name, value in changes.items():
            setattr(subscription, name, value)
        subscription.save(update_fields=[*changes, "updated_at"])
        audit_record(
            actor=actor,
            action="subscription.sync",
            tenant_id=subscription.tenant_id,
            target=subscription.stripe_subscription_id,
            details={
                "plan": subscription.plan.code,
                "status": subscription.status,
                "as_of": as_of.isoformat(),
            },
        )
    return subscription
