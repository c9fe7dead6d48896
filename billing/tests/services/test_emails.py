"""Customer emails are rendered from templates and sent through Django's email backend."""

import pytest
from django.core import mail

from billing.services.emails import email_payment_failed_send, email_pipeline_failed_send
from tenants.models import Tenant


@pytest.fixture
def tenant(db):
    return Tenant(id="acme_co", company_name="Acme & Co", admin_email="admin@acme.example.com")


def test_pipeline_failed_email_names_the_run_and_error(tenant):
    """The failure notice goes to the given recipients with the pipeline, run id and error."""
    email_pipeline_failed_send(
        tenant=tenant,
        run_id="run_123",
        pipeline="gcp/cost/billing",
        error="Table not found: billing_export",
        recipients=["ops@acme.example.com", "cfo@acme.example.com"],
    )
    message = mail.outbox[0]
    assert message.to == ["ops@acme.example.com", "cfo@acme.example.com"]
    assert message.subject == "Convergence: pipeline gcp/cost/billing failed"
    assert "run_123" in message.body and "Table not found: billing_export" in message.body
    assert "Acme & Co" in message.body  # plain text: not HTML-escaped


def test_pipeline_failed_email_without_recipients_sends_nothing(tenant):
    """No one to notify: no email."""
    email_pipeline_failed_send(tenant=tenant, run_id="r", pipeline="p", error="e", recipients=[])
    assert mail.outbox == []


def test_payment_failed_email_goes_to_the_admin(tenant):
    """By default the payment-failed notice goes to the tenant's admin email."""
    email_payment_failed_send(tenant=tenant)
    assert mail.outbox[0].to == ["admin@acme.example.com"]
    assert "runs for tenant\nacme_co are paused" in mail.outbox[0].body
