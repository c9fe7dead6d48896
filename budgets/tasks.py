"""Celery tasks of the budgets app: thin, by id, one service call each."""

from celery import shared_task

from budgets.models import WebhookDelivery
from budgets.services.alerts import WebhookFailed, webhook_deliver
from budgets.services.budgets import budgets_evaluate

MAX_RETRIES = 6


@shared_task(name="budgets.evaluate", acks_late=True, ignore_result=True)
def budgets_evaluate_task(tenant_id: str) -> None:
    """Evaluate a tenant's budgets after a FOCUS run."""
    budgets_evaluate(tenant_id=tenant_id)


@shared_task(
    bind=True,
    name="budgets.webhook_deliver",
    acks_late=True,
    ignore_result=True,
    max_retries=MAX_RETRIES,
)
def webhook_deliver_task(self, delivery_id: int) -> None:
    """POST one alert; on failure retry with exponential backoff (1 s, 2 s, 4 s, ... ±jitter)."""
    delivery = (
        WebhookDelivery.objects.select_related("endpoint")
        .filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
        .first()
    )
    if delivery is None:
        return
    final = self.request.retries >= MAX_RETRIES
    try:
        webhook_deliver(delivery=delivery, final=final)
    except WebhookFailed as exc:
        if final:
            return
        raise self.retry(exc=exc, countdown=2**self.request.retries) from exc
