"""The audit log: every change made through a service leaves one event."""

from dataclasses import dataclass
from typing import Any

from tenants.models import AuditEvent


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff user, a key (by its prefix), or the system; plus X-User-ID."""

    user: Any = None
    label: str = "system"
    user_id: str = ""

    @classmethod
    def system(cls, label: str = "system") -> "Actor":
        return cls(label=label)


def audit_record(
    *,
    actor: Actor,
    action: str,
    tenant_id: str = "",
    target: str = "",
    details: dict | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        **audit_row(actor=actor, action=action, tenant_id=tenant_id, target=target, details=details)
    )


def audit_row(
    *,
    actor: Actor,
    action: str,
    tenant_id: str = "",
    target: str = "",
    details: dict | None = None,
) -> dict[str, Any]:
    """The event ``audit_record`` would write, as a row (field name -> value), for a caller
    that writes it in a statement of its own (``pipeline_run_start``)."""
    return {
        "tenant_id": tenant_id,
        "actor_id": getattr(actor.user, "pk", None),
        "actor_label": actor.label[:150],
        "user_id": actor.user_id[:150],
        "action": action,
        "target": target[:200],
        "details": details or {},
    }
