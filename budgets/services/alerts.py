"""Alerts: an email to the tenant's notification contacts and an optional signed webhook."""

from __future__ import annotations

import http.client
import json
import secrets

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from budgets.models import BudgetAlert, WebhookDelivery, WebhookEndpoint
from budgets.signing import HEADER, signature_header
from budgets.webhooks import WebhookUrlRefused, destination_check, webhook_post
from tenants import kms
from tenants.models import ProviderConfig, Tenant
from tenants.services.audit import Actor, audit_record


class WebhookFailed(Exception):
    """A delivery attempt did not get a 2xx answer; the task retries it."""


def cost_page_url(tenant_id: str) -> str:
    path = reverse("admin:tenants_tenant_overview", args=[tenant_id])
    return (settings.PUBLIC_URL or "https://<your Convergence host>") + path


def notification_contacts(*, tenant: Tenant) -> list[str]:
    """The provider configs' notification emails, else the tenant's admin email."""
    emails: list[str] = []
    for config in ProviderConfig.objects.filter(tenant=tenant):
        emails += [e for e in config.notification_emails if e not in emails]
    return emails or [tenant.admin_email]


def alert_payload(*, alert: BudgetAlert, status) -> dict:
    budget = alert.budget
    return {
        "event": "budget.threshold_crossed",
        "tenant_id": budget.tenant_id,
        "budget": {"id": budget.pk, "name": budget.name, "scope": budget.scope},
        "threshold": {"kind": alert.kind, "percent": alert.percent},
        "period": {"start": status.period_start.isoformat(), "end": status.period_end.isoformat()},
        "as_of": alert.as_of.isoformat(),
        "amount": str(budget.amount),
        "actual": str(alert.actual),
        "forecast": str(alert.forecast),
        "actual_percent": round(status.actual_percent, 1),
        "forecast_percent": round(status.forecast_percent, 1),
        "url": cost_page_url(budget.tenant_id),
    }


def alert_text(payload: dict) -> tuple[str, str]:
    """Subject and body: what, how much, since when, and where to look."""
    kind = payload["threshold"]["kind"]
    value = payload["actual"] if kind == "actual" else payload["forecast"]
    share = payload["actual_percent"] if kind == "actual" else payload["forecast_percent"]
    subject = (
        f"Budget {payload['budget']['name']}: {kind} cost at {share}% "
        f"(threshold {payload['threshold']['percent']}%)"
    )
    body = (
        f"Budget: {payload['budget']['name']} ({payload['budget']['scope']})\n"
        f"Period: {payload['period']['start']} to {payload['period']['end']}\n"
        f"{kind.capitalize()} cost: {value} of {payload['amount']} ({share}%), "
        f"crossing {payload['threshold']['percent']}% as of {payload['as_of']}\n"
        f"Cost so far since {payload['period']['start']}: {payload['actual']}; "
        f"forecast to period end: {payload['forecast']}\n"
        f"Costs: {payload['url']}\n"
    )
    return subject, body


def alert_send(*, alert: BudgetAlert, status) -> None:
    """Email the contacts and queue the webhook, once the alert's row is committed."""
    tenant = alert.budget.tenant
    payload = alert_payload(alert=alert, status=status)
    subject, body = alert_text(payload)
    recipients = notification_contacts(tenant=tenant)
    transaction.on_commit(lambda: send_mail(subject, body, None, recipients))
    endpoint = WebhookEndpoint.objects.filter(tenant=tenant).first()
    if endpoint is not None:
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint,
            alert=alert,
            event=payload["event"],
            body=json.dumps(payload, sort_keys=True),
        )
        transaction.on_commit(lambda: webhook_delivery_enqueue(delivery_id=delivery.pk))


def webhook_delivery_enqueue(*, delivery_id: int) -> None:

    from budgets.tasks import webhook_deliver_task  # the tasks module imports these services

    webhook_deliver_task.delay(delivery_id)


def webhook_set(*, tenant: Tenant, url: str, actor: Actor) -> tuple[WebhookEndpoint, str]:
    """Register (or replace) the tenant's webhook with a fresh secret, returned this once.

    WebhookUrlRefused (nothing stored) if the URL may not be called (``budgets.webhooks``)."""
    destination_check(url)
    secret = "whsec_" + secrets.token_urlsafe(32)
    encrypted = kms.secret_encrypt(secret.encode(), tenant_id=tenant.pk)
    with transaction.atomic():
        endpoint, _ = WebhookEndpoint.objects.update_or_create(
            tenant=tenant,
            defaults={
                "url": url,
                "ciphertext": encrypted.ciphertext,
                "nonce": encrypted.nonce,
                "wrapped_key": encrypted.wrapped_key,
                "key_ref": encrypted.key_ref,
            },
        )
        audit_record(actor=actor, action="webhook.set", tenant_id=tenant.pk, target=url)
    return endpoint, secret


def webhook_secret(endpoint: WebhookEndpoint) -> str:
    stored = kms.EncryptedSecret(
        ciphertext=bytes(endpoint.ciphertext),
        nonce=bytes(endpoint.nonce),
        wrapped_key=bytes(endpoint.wrapped_key),
        key_ref=endpoint.key_ref,
    )
    return kms.secret_decrypt(stored, tenant_id=endpoint.tenant_id).decode()


def webhook_deliver(*, delivery: WebhookDelivery, final: bool = False) -> None:
    """POST the delivery's body, signed; record the attempt. Raises WebhookFailed on non-2xx.

    The URL is checked again first (its host may resolve elsewhere by now); a refused URL is
    a failed attempt like an unreachable one."""
    endpoint = delivery.endpoint
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Convergence-Webhooks/1",
        HEADER: signature_header(secret=webhook_secret(endpoint), body=body),
        "Convergence-Delivery": str(delivery.pk),
    }
    delivery.attempts += 1
    code, error = None, ""
    try:
        code = webhook_post(endpoint.url, body=body, headers=headers)
        if not 200 <= code < 300:
            error = f"HTTP {code}"
    except WebhookUrlRefused as exc:
        error = f"refused: {exc}"[:500]
    except (OSError, http.client.HTTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    delivery.last_status_code = code
    delivery.last_error = error
    if code is not None and 200 <= code < 300:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = timezone.now()
    elif final:
        delivery.status = WebhookDelivery.Status.FAILED
    delivery.save()
    if delivery.status != WebhookDelivery.Status.DELIVERED:
        raise WebhookFailed(error or f"HTTP {code}")
