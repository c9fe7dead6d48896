"""Reconciliation: fetch from Stripe the events a long outage made us miss, and apply them."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from billing.models import StripeEvent
from billing.services.events import HANDLED_TYPES, EventRetryable, stripe_event_process
from billing.services.webhooks import stripe_event_store
from billing.stripe_client import events_list

logger = logging.getLogger(__name__)

# Stripe lists events of the last 30 days only.
STRIPE_EVENT_RETENTION = timedelta(days=30)


@dataclass(frozen=True)
class Reconciled:
    since: datetime
    listed: int
    stored: int
    processed: int
    failed: int


def stripe_events_reconcile(*, since: datetime | None = None) -> Reconciled:
    """List Stripe's events since ``since`` (default: the last event processed) and apply, oldest
    first, those never stored or not yet applied. Safe to run at any time: events are stored
    once by id and applied once."""
    if since is None:
        last = StripeEvent.objects.filter(status__in=StripeEvent.DONE).order_by("-created").first()
        since = last.created if last else timezone.now() - STRIPE_EVENT_RETENTION
    # ``gte``, not ``gt``: events share whole seconds; the ones already stored are skipped.
    listed = sorted(
        events_list(created_gte=int(since.timestamp()), types=HANDLED_TYPES),
        key=lambda data: (int(data.get("created") or 0), str(data.get("id"))),
    )
    stored = processed = failed = 0
    for data in listed:
        result = stripe_event_store(data=data, enqueue=False)
        stored += not result.duplicate
        if result.event.status in StripeEvent.DONE:
            continue
        try:
            event = stripe_event_process(event_pk=result.event.pk)
        except EventRetryable:
            failed += 1
            continue
        if event is not None and event.status in StripeEvent.DONE:
            processed += 1
        elif event is not None and event.status == StripeEvent.Status.FAILED:
            failed += 1
    logger.info("stripe reconcile since %s: %d listed, %d new", since, len(listed), stored)
    return Reconciled(
        since=since, listed=len(listed), stored=stored, processed=processed, failed=failed
    )
