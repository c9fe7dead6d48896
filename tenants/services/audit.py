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
    user = actor.user if getattr(actor.user, "pk", None) else None
    return AuditEvent.objects.create(
        tenant_id=tenant_id,
        actor=user,
        actor_label=actor.label[:150],
        user_id=actor.user_id[:150],
        action=action,
        target=target[:200],
        details=details or {},
    )
