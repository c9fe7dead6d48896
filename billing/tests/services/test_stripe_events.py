"""Processing Stripe events: idempotent, order-proof, and deciding who may run pipelines."""

import logging
from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from billing.models import PlanPrice, StripeEvent, WelcomeEmail
from billing.services.events import stripe_event_process, stripe_event_reprocess
from billing.services.webhooks import stripe_event_store
from billing.tests.conftest import (
    checkout_event,
    invoice_event,
    new_tenant_id,
    subscription_event,
)
from pipelines.errors import TenantCannotRun
from pipelines.services.quotas import runs_admit_batch
from tenants.models import ApiKey, Plan, Tenant
from tenants.services.audit import Actor
from tenants.services.lifecycle import tenant_suspend

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery", "drop_datasets")]

Status = StripeEvent.Status


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """Store an event and process it as the task would, running after-commit work too."""

    def _deliver(event: dict) -> StripeEvent:
        with django_capture_on_commit_callbacks(execute=True):
            stored = stripe_event_store(data=event, enqueue=False)
            stripe_event_process(event_pk=stored.event.pk)
        return StripeEvent.objects.get(event_id=event["id"])

    return _deliver


@pytest.fixture
def signed_up(deliver):
    """A tenant signed up through checkout.session.completed, on STARTER."""

    def _signed_up(**kwargs) -> Tenant:
        tenant_id = new_tenant_id()
        created = kwargs.pop("created", None)
        assert deliver(checkout_event(tenant_id, created=created)).status == Status.PROCESSED
        return Tenant.objects.get(pk=tenant_id)

    return _signed_up


def _admitted(tenant: Tenant) -> bool:
    """Whether a run would be admitted now; the admission is rolled back, using no quota."""
    with transaction.atomic():
        refusal = runs_admit_batch(wanted={tenant.pk: 1}, now=timezone.now())[tenant.pk].refusal
        transaction.set_rollback(True)
    if isinstance(refusal, TenantCannotRun):
        return False
    if refusal is not None:
        raise refusal
    return True


def test_replayed_checkout_creates_no_second_tenant(deliver, django_capture_on_commit_callbacks):
    """Processing the same checkout again, or a second event for it, onboards nothing more."""
    tenant_id = new_tenant_id()
    event = checkout_event(tenant_id)
    deliver(event)
    again = StripeEvent.objects.get(event_id=event["id"])
    with django_capture_on_commit_callbacks(execute=True):
        stripe_event_process(event_pk=again.pk)
        stripe_event_reprocess(event=again)
    second = dict(event, id="evt_second_delivery_of_same_session")
    assert deliver(second).status == Status.PROCESSED
    assert Tenant.objects.filter(pk=tenant_id).count() == 1
    assert ApiKey.objects.filter(tenant_id=tenant_id).count() == 1
    assert len(mail.outbox) == 1
    assert WelcomeEmail.objects.filter(tenant_id=tenant_id).count() == 1


def test_subscription_update_before_checkout_ends_on_the_right_plan(deliver):
    """A plan change that arrives before its checkout is kept, then applied after onboarding."""
    tenant_id = new_tenant_id()
    now = int(timezone.now().timestamp())
    checkout = checkout_event(tenant_id, created=now - 10)
    upgrade = subscription_event(tenant_id, price="price_local_professional", created=now - 5)

    early = deliver(upgrade)
    assert early.status == Status.DEFERRED
    assert not Tenant.objects.filter(pk=tenant_id).exists()

    deliver(checkout)
    tenant = Tenant.objects.get(pk=tenant_id)
    assert tenant.subscription.plan.code == "PROFESSIONAL"
    assert StripeEvent.objects.get(event_id=upgrade["id"]).status == Status.PROCESSED


def test_older_event_never_overwrites_newer_state(deliver, signed_up):
    """A plan change created before the current state's event is ignored when it arrives late."""
    tenant = signed_up(created=int(timezone.now().timestamp()) - 100)
    now = int(timezone.now().timestamp())
    newer = subscription_event(tenant.id, price="price_local_scale", created=now)
    older = subscription_event(tenant.id, price="price_local_professional", created=now - 50)
    assert deliver(newer).status == Status.PROCESSED
    late = deliver(older)
    assert late.status == Status.IGNORED
    assert "Older" in late.note
    tenant.subscription.refresh_from_db()
    assert tenant.subscription.plan.code == "SCALE"


def test_payment_failed_refuses_runs_and_paid_allows_them_again(deliver, signed_up):
    """invoice.payment_failed → PAST_DUE and runs refused (403); invoice.paid → runs again."""
    tenant = signed_up(created=int(timezone.now().timestamp()) - 100)
    assert _admitted(tenant)
    now = int(timezone.now().timestamp())

    failed = deliver(invoice_event(tenant.id, "invoice.payment_failed", created=now - 10))
    assert failed.status == Status.PROCESSED
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.PAST_DUE
    with transaction.atomic():
        refused = runs_admit_batch(wanted={tenant.pk: 1}, now=timezone.now())[tenant.pk].refusal
    assert isinstance(refused, TenantCannotRun) and refused.status_code == 403
    assert mail.outbox[-1].subject.startswith("Convergence: your payment failed")

    deliver(invoice_event(tenant.id, "invoice.paid", created=now))
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.ACTIVE
    assert _admitted(tenant)


def test_late_payment_failure_after_payment_is_ignored(deliver, signed_up):
    """A failed payment older than the paid invoice that followed it leaves the tenant active."""
    tenant = signed_up(created=int(timezone.now().timestamp()) - 100)
    now = int(timezone.now().timestamp())
    deliver(invoice_event(tenant.id, "invoice.paid", created=now))
    assert deliver(invoice_event(tenant.id, "invoice.payment_failed", created=now - 5)).status == (
        Status.IGNORED
    )
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.ACTIVE


def test_subscription_deleted_cancels(deliver, signed_up):
    """customer.subscription.deleted makes the tenant CANCELLED; a later paid invoice keeps it."""
    tenant = signed_up(created=int(timezone.now().timestamp()) - 100)
    now = int(timezone.now().timestamp())
    deliver(
        subscription_event(
            tenant.id,
            price="price_local_starter",
            status="canceled",
            event_type="customer.subscription.deleted",
            created=now - 10,
        )
    )
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.CANCELLED
    assert tenant.subscription.status == "canceled"
    deliver(invoice_event(tenant.id, "invoice.paid", created=now))
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.CANCELLED
    assert not _admitted(tenant)


def test_staff_suspension_is_not_lifted_by_a_payment(deliver, signed_up):
    """A tenant staff suspended stays suspended when Stripe reports a paid invoice."""
    tenant = signed_up(created=int(timezone.now().timestamp()) - 100)
    tenant_suspend(tenant=tenant, actor=Actor.system("staff"), reason="Abuse")
    deliver(invoice_event(tenant.id, "invoice.paid"))
    deliver(subscription_event(tenant.id, price="price_local_starter", status="active"))
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.SUSPENDED


def test_unmapped_price_fails_then_reprocess_succeeds(
    deliver, signed_up, django_capture_on_commit_callbacks
):
    """An event for an unmapped price fails with the reason; mapped in the admin, it applies."""
    tenant = signed_up(created=int(timezone.now().timestamp()) - 100)
    event = deliver(subscription_event(tenant.id, price="price_brand_new"))
    assert event.status == Status.FAILED
    assert "price_brand_new" in event.error
    PlanPrice.objects.create(stripe_price_id="price_brand_new", plan=Plan.objects.get(code="SCALE"))
    with django_capture_on_commit_callbacks(execute=True):
        stripe_event_reprocess(event=event)
    event.refresh_from_db()
    assert (event.status, event.error, event.attempts) == (Status.PROCESSED, "", 2)
    tenant.subscription.refresh_from_db()
    assert tenant.subscription.plan.code == "SCALE"


def test_trial_checkout_then_active_subscription(deliver):
    """An unpaid (trial) checkout starts in TRIAL; the subscription turning active ends it."""
    tenant_id = new_tenant_id()
    now = int(timezone.now().timestamp())
    checkout = checkout_event(tenant_id, created=now - 10)
    checkout["data"]["object"]["payment_status"] = "no_payment_required"
    deliver(checkout)
    assert Tenant.objects.get(pk=tenant_id).status == Tenant.Status.TRIAL
    deliver(
        subscription_event(tenant_id, price="price_local_starter", status="active", created=now)
    )
    assert Tenant.objects.get(pk=tenant_id).status == Tenant.Status.ACTIVE


def test_checkout_for_a_taken_tenant_id_fails(deliver, signed_up):
    """A second customer's checkout for an existing tenant id fails, touching nothing."""
    tenant = signed_up()
    other = checkout_event(tenant.id)
    other["data"]["object"]["customer"] = "cus_someone_else"
    event = deliver(other)
    assert event.status == Status.FAILED
    assert "belongs to customer" in event.error
    tenant.refresh_from_db()
    assert tenant.stripe_customer_id != "cus_someone_else"
    assert len(mail.outbox) == 1


def test_failed_welcome_email_is_recorded_and_never_resent(
    deliver, settings, caplog, django_capture_on_commit_callbacks
):
    """A mail server failure leaves the tenant onboarded, the email FAILED, no key in the log."""
    settings.EMAIL_BACKEND = "billing.tests.services.test_stripe_events.BrokenBackend"
    tenant_id = new_tenant_id()
    event = checkout_event(tenant_id)
    with caplog.at_level(logging.INFO):
        stored = deliver(event)
    assert stored.status == Status.PROCESSED
    welcome = WelcomeEmail.objects.get(tenant_id=tenant_id)
    assert welcome.status == WelcomeEmail.Status.FAILED
    assert "SMTP down" in welcome.error
    assert f"sk_{tenant_id}_" not in caplog.text
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        stripe_event_reprocess(event=stored)
    assert mail.outbox == []
    assert ApiKey.objects.filter(tenant_id=tenant_id).count() == 1


def test_warehouse_outage_leaves_nothing_and_is_retryable(monkeypatch):
    """Onboarding failing at the warehouse rolls back, marks the event failed, and retries."""
    from billing.services import events
    from tenants.services import onboarding
    from warehouse import bigquery as warehouse

    def down(**kwargs):
        raise warehouse.WarehouseUnavailable("emulator is down")

    monkeypatch.setattr(onboarding, "tenant_dataset_provision", down)
    tenant_id = new_tenant_id()
    stored = stripe_event_store(data=checkout_event(tenant_id), enqueue=False)
    with pytest.raises(events.EventRetryable):
        stripe_event_process(event_pk=stored.event.pk)
    stored.event.refresh_from_db()
    assert stored.event.status == Status.FAILED
    assert "ProvisioningFailed" in stored.event.error
    assert not Tenant.objects.filter(pk=tenant_id).exists()
    assert mail.outbox == []


def test_event_times_are_stored_from_stripe(deliver):
    """The stored event's time is Stripe's ``created``, not the time it arrived."""
    created = timezone.now().replace(microsecond=0) - timedelta(hours=2)
    event = checkout_event(new_tenant_id(), created=int(created.timestamp()))
    event["type"] = "customer.created"
    assert deliver(event).created == created


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("SMTP down")
