"""The signed-event command signs up and bills a tenant through the real webhook path."""

import json

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError

from billing.models import StripeEvent
from billing.stripe_client import webhook_event_verify
from billing.tests.conftest import WEBHOOK_URL, new_tenant_id
from convergence.celery import app as celery_app
from tenants.models import Tenant
from tenants.tests.factories import TenantFactory


@pytest.mark.urls("billing.tests.urls")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_send_event_drives_a_tenant_through_a_running_server(
    live_server, eager_celery, drop_datasets, warehouse, capsys
):
    """Checkout, payment failed, paid, plan change and cancel, each POSTed signed over HTTP."""
    tenant_id = new_tenant_id()
    url = live_server.url + WEBHOOK_URL

    def send(kind: str, *args: str) -> str:
        call_command("stripe_send_event", kind, "--tenant-id", tenant_id, "--url", url, *args)
        return capsys.readouterr().out

    out = send("checkout", "--plan", "PROFESSIONAL", "--email", "ops@demo.example.com")
    assert "checkout.session.completed" in out and "HTTP 200" in out
    # The command waits for the outcome and says what happened, not only that HTTP said 200.
    assert f"processed: Tenant {tenant_id} onboarded on PROFESSIONAL." in out
    assert "welcome email with the API key sent to ops@demo.example.com" in out
    tenant = Tenant.objects.get(pk=tenant_id)
    assert (tenant.status, tenant.subscription.plan.code) == ("ACTIVE", "PROFESSIONAL")
    assert warehouse.dataset_exists(tenant.dataset_id)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@demo.example.com"]
    assert f"sk_{tenant_id}_" in mail.outbox[0].body

    send("payment-failed")
    assert Tenant.objects.get(pk=tenant_id).status == "PAST_DUE"
    send("paid")
    assert Tenant.objects.get(pk=tenant_id).status == "ACTIVE"
    send("plan-change", "--plan", "SCALE")
    assert Tenant.objects.get(pk=tenant_id).subscription.plan.code == "SCALE"
    send("cancel")
    assert Tenant.objects.get(pk=tenant_id).status == "CANCELLED"
    assert StripeEvent.objects.filter(status=StripeEvent.Status.PROCESSED).count() == 5


@pytest.mark.django_db
def test_print_builds_a_correctly_signed_event(capsys):
    """--print shows a body and Stripe-Signature header that the webhook's verifier accepts."""
    call_command("stripe_send_event", "checkout", "--tenant-id", "acme_co", "--print")
    out = capsys.readouterr().out
    header_line, body = out.split("\n\n", 1)
    header = header_line.removeprefix("Stripe-Signature: ")
    event = webhook_event_verify(payload=body.strip().encode(), signature_header=header)
    session = event["data"]["object"]
    assert event["type"] == "checkout.session.completed"
    assert session["metadata"]["tenant_id"] == "acme_co"
    assert session["metadata"]["price_id"] == "price_local_starter"
    assert json.loads(body)["id"].startswith("evt_")


@pytest.mark.django_db
def test_unknown_plan_is_refused():
    """A plan without a mapped Stripe price is refused before anything is sent."""
    with pytest.raises(CommandError, match="No Stripe price is mapped to plan 'GOLD'"):
        call_command("stripe_send_event", "checkout", "--tenant-id", "acme_co", "--plan", "GOLD")


@pytest.mark.django_db
def test_unreachable_server_is_reported():
    """A server that is not running gives a clear error, not a traceback."""
    with pytest.raises(CommandError, match="Cannot reach"):
        call_command(
            "stripe_send_event", "paid", "--tenant-id", "acme_co", "--url", "http://127.0.0.1:9/x"
        )


@pytest.mark.urls("billing.tests.urls")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_send_event_reports_refused_and_deferred_with_exit_codes(live_server, eager_celery, capsys):
    """A refused event exits 1 naming why; an event waiting for its tenant exits 2."""
    url = live_server.url + WEBHOOK_URL
    taken = TenantFactory()  # a tenant id another customer already holds
    with pytest.raises(CommandError, match=r"^refused: Customer .* cannot onboard") as refused:
        call_command("stripe_send_event", "checkout", "--tenant-id", taken.id, "--url", url)
    assert refused.value.returncode == 1
    with pytest.raises(CommandError, match=r"^deferred: No tenant for customer") as deferred:
        call_command(
            "stripe_send_event", "payment-failed", "--tenant-id", new_tenant_id(), "--url", url
        )
    assert deferred.value.returncode == 2
    assert "HTTP 200" in capsys.readouterr().out


@pytest.mark.urls("billing.tests.urls")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_send_event_without_a_worker_says_it_got_no_outcome(live_server, capsys):
    """Accepted but never processed (queued, no worker running): exit 3 after --wait, naming
    the worker."""
    url = live_server.url + WEBHOOK_URL
    try:
        with pytest.raises(CommandError, match=r"no outcome after 1 s .*worker") as pending:
            call_command(
                "stripe_send_event",
                *("paid", "--tenant-id", new_tenant_id(), "--url", url, "--wait", "1"),
            )
        assert pending.value.returncode == 3
    finally:
        celery_app.control.purge()  # the queued task is for no later test's worker
