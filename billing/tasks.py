"""Celery tasks of the billing app: thin, by id, one service call each."""

from celery import shared_task

from billing.services.events import EventRetryable, stripe_event_process


@shared_task(
    name="billing.stripe_event_process",
    acks_late=True,
    ignore_result=True,
    autoretry_for=(EventRetryable,),
    retry_backoff=30,
    retry_backoff_max=30 * 60,
    retry_jitter=True,
    max_retries=8,
)
def stripe_event_process_task(event_pk: int) -> None:
    """Apply one stored Stripe event; one already processed or gone is left alone."""
    stripe_event_process(event_pk=event_pk)
