"""Emails to customers, rendered from templates/emails/ and sent through Django's email backend."""

import contextlib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.exceptions import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone

from pipelines.services.inputs import pipelines_for_tenant
from tenants.models import Tenant


def _send(*, template: str, subject: str, context: dict, recipients: list[str]) -> None:
    text = render_to_string(f"emails/{template}.txt", context)
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=recipients
    )
    with contextlib.suppress(TemplateDoesNotExist):
        html = render_to_string(f"emails/{template}.html", context)
        message.attach_alternative(html, "text/html")
    message.send(fail_silently=False)


def email_welcome_send(*, tenant: Tenant, api_key: str, recipient: str) -> None:
    """The welcome email: the only place the tenant's first API key is ever shown.

    Its examples are pipelines the tenant can run as it is now; those that need a provider
    config first say which setting.
    """

    pipelines = pipelines_for_tenant(tenant_id=tenant.id)
    _send(
        template="welcome",
        subject=f"Welcome to Convergence, {tenant.company_name}",
        context={
            "tenant": tenant,
            "api_key": api_key,
            "plan": tenant.subscription.plan,
            "dataset_id": tenant.dataset_id,
            "base_url": settings.PUBLIC_URL or "https://<your Convergence host>",
            "today": f"{timezone.now():%Y-%m-%d}",
            "ready": [p for p in pipelines if not p["missing"]],
            "needs_settings": [p for p in pipelines if p["missing"]],
        },
        recipients=[recipient],
    )


def email_payment_failed_send(*, tenant: Tenant, recipients: list[str] | None = None) -> None:
    """Tell the tenant its payment failed and runs are paused until it is paid."""
    _send(
        template="payment_failed",
        subject="Convergence: your payment failed, pipeline runs are paused",
        context={"tenant": tenant},
        recipients=recipients or [tenant.admin_email],
    )


def email_pipeline_failed_send(
    *, tenant: Tenant, run_id: str, pipeline: str, error: str, recipients: list[str]
) -> None:
    """Notify a tenant's recipients that one of its pipeline runs failed."""
    if not recipients:
        return
    _send(
        template="pipeline_failed",
        subject=f"Convergence: pipeline {pipeline} failed",
        context={"tenant": tenant, "run_id": run_id, "pipeline": pipeline, "error": error},
        recipients=recipients,
    )
