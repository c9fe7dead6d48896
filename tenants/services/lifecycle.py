"""Tenant status changes: suspend, reactivate, and the states billing drives."""

from django.db import transaction

from tenants.models import Tenant
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
