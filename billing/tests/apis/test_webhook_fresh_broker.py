"""Fifty signed deliveries at once on a fresh SQLite broker: all 2xx, one tenant.

kombu's SQLAlchemy transport creates its queue row on first use; concurrent first uses used to
race (``UNIQUE constraint failed: kombu_queue.name``), a 500 to Stripe and, in ``make run``, a
dead worker. ``core.broker`` makes the loser of that race succeed.
"""

import threading

import pytest
from django.db import connections
from kombu import Connection

from billing.models import StripeEvent
from billing.services.events import stripe_event_process
from billing.tests.conftest import checkout_event, new_tenant_id, post_signed
from convergence.celery import app as celery_app
from tenants.models import Tenant

DELIVERIES = 50

pytestmark = [
    pytest.mark.urls("billing.tests.urls"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def fresh_broker(tmp_path, monkeypatch):
    """The Celery app pointed at a SQLite broker file that does not exist yet (also in CI,
    where CELERY_BROKER_URL names Redis: Celery reads that variable before its settings)."""
    previous = celery_app.conf.broker_url
    url = f"sqla+sqlite:///{tmp_path / 'fresh-broker.sqlite3'}"

    def use(broker_url: str) -> None:
        celery_app.conf.broker_url = broker_url
        celery_app._pool = None  # connection and producer pools are made per broker URL
        celery_app.amqp._producer_pool = None

    monkeypatch.setenv("CELERY_BROKER_URL", url)
    use(url)
    assert celery_app.conf.broker_url == url
    yield url
    monkeypatch.delenv("CELERY_BROKER_URL")
    use(previous)


def test_fifty_concurrent_deliveries_on_a_fresh_broker(fresh_broker, drop_datasets, warehouse):
    """Fifty checkout events (distinct ids, one sign-up) delivered at once: each is stored and
    enqueued on the fresh broker (50 concurrent first uses of the queue), every answer is 2xx,
    and processing them gives exactly one tenant."""
    tenant_id = new_tenant_id()
    base = checkout_event(tenant_id)
    events = [{**base, "id": f"{base['id']}_{i}"} for i in range(DELIVERIES)]
    barrier = threading.Barrier(DELIVERIES)
    answers: list = []
    lock = threading.Lock()

    def deliver(event):
        try:
            barrier.wait(timeout=60)
            response = post_signed(event)
            outcome = (response.status_code, response.content)
        except Exception as exc:  # shown by the assertion below
            outcome = exc
        finally:
            connections.close_all()
        with lock:
            answers.append(outcome)

    threads = [threading.Thread(target=deliver, args=(e,)) for e in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)

    assert len(answers) == DELIVERIES
    failures = [a for a in answers if not (isinstance(a, tuple) and 200 <= a[0] < 300)]
    assert failures == []
    with Connection(fresh_broker) as conn:
        queued = conn.SimpleQueue("celery").qsize()
    assert queued == DELIVERIES
    for pk in StripeEvent.objects.order_by("created", "pk").values_list("pk", flat=True):
        stripe_event_process(event_pk=pk)
    assert Tenant.objects.filter(pk=tenant_id).count() == 1
    assert StripeEvent.objects.filter(status=StripeEvent.Status.PROCESSED).count() == DELIVERIES
