"""Receiving Stripe events: verify the signature, store the raw event once, enqueue processing."""

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from billing.models import InvalidDelivery, StripeEvent
from billing.stripe_client import DeliveryInvalid, webhook_event_verify

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stored:
    event: StripeEvent
    duplicate: bool


def _customer_id(data: dict) -> str:
    """The Stripe customer an event is about, so deferred events can find their tenant."""
    obj = (data.get("data") or {}).get("object") or {}
    if obj.get("object") == "customer":
        return str(obj.get("id") or "")
    customer = obj.get("customer")
    if isinstance(customer, dict):  # expanded
        customer = customer.get("id")
    return str(customer or "")


def stripe_event_store(*, data: dict, enqueue: bool = True) -> Stored:
    """Store a verified event once by its id; a new one is queued for processing after commit.

    Two deliveries racing both end here: the unique event id lets one insert win, and the
    other reads the winner's row and reports a duplicate.
    """
    from billing.tasks import stripe_event_process_task  # the tasks module imports these services

    defaults = {
        "type": str(data.get("type") or ""),
        "created": datetime.fromtimestamp(int(data.get("created") or 0), tz=UTC),
        "livemode": bool(data.get("livemode")),
        "stripe_customer_id": _customer_id(data),
        "payload": data,
    }
    try:
        with transaction.atomic():
            event, created = StripeEvent.objects.get_or_create(
                event_id=data["id"], defaults=defaults
            )
            if created and enqueue:
                transaction.on_commit(lambda: stripe_event_process_task.delay(event.pk))
    except IntegrityError:
        event, created = StripeEvent.objects.get(event_id=data["id"]), False
    if created:
        logger.info("stripe event %s (%s) stored", event.event_id, event.type)
    return Stored(event=event, duplicate=not created)


def stripe_webhook_receive(
    *, payload: bytes, signature_header: str | None, remote_addr: str | None = None
) -> Stored:
    """Verify a webhook delivery and store its event; a bad one is recorded and refused.

    Raises SignatureInvalid or EventMalformed (after recording an InvalidDelivery),
    or StripeNotConfigured.
    """
    try:
        data = webhook_event_verify(payload=payload, signature_header=signature_header)
    except DeliveryInvalid as exc:
        invalid_delivery_count(
            reason=str(exc)[:200],
            had_signature=bool(signature_header),
            payload=payload,
            remote_addr=remote_addr or None,
        )
        logger.warning("stripe webhook refused: %s", exc)
        raise
    return stripe_event_store(data=data)


def invalid_delivery_count(
    *, reason: str, had_signature: bool, payload: bytes, remote_addr: str | None
) -> None:
    """Count a refused delivery in its hour's row (created by the first of them)."""
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    bucket = hashlib.sha256(
        f"{hour.isoformat()}|{reason}|{had_signature}|{remote_addr}".encode()
    ).hexdigest()
    last = {
        "count": F("count") + 1,
        "last_received_at": now,
        "body_sha256": hashlib.sha256(payload).hexdigest(),
        "body_length": len(payload),
    }
    if InvalidDelivery.objects.filter(bucket=bucket).update(**last):
        return
    try:
        with transaction.atomic():
            InvalidDelivery.objects.create(
                bucket=bucket,
                reason=reason,
                had_signature=had_signature,
                remote_addr=remote_addr,
                last_received_at=now,
                body_sha256=last["body_sha256"],
                body_length=last["body_length"],
            )
    except IntegrityError:  # another delivery of the same hour created it first
        InvalidDelivery.objects.filter(bucket=bucket).update(**last)
