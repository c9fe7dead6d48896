"""Ten simultaneous deliveries of one sign-up on PostgreSQL: one tenant, one key, one email."""

import threading

import pytest
from django.core import mail
from django.db import connections

from billing.models import StripeEvent, WelcomeEmail
from billing.services.events import stripe_event_process
from billing.tests.conftest import checkout_event, new_tenant_id, post_signed
from tenants.models import ApiKey, Tenant

DELIVERIES = 10

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.urls("billing.tests.urls"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_ten_concurrent_deliveries_sign_up_once(
    requires_postgres, eager_celery, drop_datasets, warehouse
):
    """The same checkout event delivered 10 times at once, each delivery also processing it
    in its thread: ten 2xx answers, one stored event, one tenant, one API key, one email."""
    tenant_id = new_tenant_id()
    event = checkout_event(tenant_id)
    barrier = threading.Barrier(DELIVERIES)
    answers: list = []
    lock = threading.Lock()

    def deliver():
        try:
            barrier.wait(timeout=30)
            # With eager Celery the webhook's after-commit hook processes the event in this
            # thread; processing it again here too makes every delivery race for the lock.
            response = post_signed(event)
            stripe_event_process(event_pk=StripeEvent.objects.get(event_id=event["id"]).pk)
            outcome = (response.status_code, response.json())
        except Exception as exc:  # shown by the assertion below
            outcome = exc
        finally:
            connections.close_all()
        with lock:
            answers.append(outcome)

    threads = [threading.Thread(target=deliver) for _ in range(DELIVERIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(answers) == DELIVERIES
    assert all(isinstance(a, tuple) and a[0] == 200 for a in answers), answers
    assert sorted(a[1]["duplicate"] for a in answers) == [False] + [True] * (DELIVERIES - 1)
    assert StripeEvent.objects.get(event_id=event["id"]).status == StripeEvent.Status.PROCESSED
    assert Tenant.objects.filter(pk=tenant_id).count() == 1
    assert ApiKey.objects.filter(tenant_id=tenant_id).count() == 1
    assert WelcomeEmail.objects.get(tenant_id=tenant_id).status == WelcomeEmail.Status.SENT
    assert len(mail.outbox) == 1
    assert f"sk_{tenant_id}_" in mail.outbox[0].body
