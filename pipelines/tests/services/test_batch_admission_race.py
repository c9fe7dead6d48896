"""Batch admission against another admission holding the tenant's lock, on PostgreSQL."""

import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from pipelines.errors import QuotaExceeded
from pipelines.services.quotas import runs_admit_batch
from scheduling.tests.factories import tenant_on_plan
from tenants.models import UsageWindow

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def _admit_one(tenant_id: str, now) -> None:
    """One run admitted, as the API admits it: a batch of one."""
    assert runs_admit_batch(wanted={tenant_id: 1}, now=now)[tenant_id].admitted == 1


def test_a_batch_that_waited_for_the_lock_counts_what_the_holder_committed(requires_postgres):
    """Daily limit 2, one run counted: an API-sized admission takes the second run and holds
    the tenant's lock; a batch asking for one more waits, then sees 2 of 2 and admits nothing
    (deciding on the counts read before the lock was granted would admit a third)."""
    tenant = tenant_on_plan(runs_per_day=2, runs_per_month=100, concurrent_runs=10)
    now = timezone.now()
    with transaction.atomic():
        _admit_one(tenant.id, now)
    holding, release = threading.Event(), threading.Event()
    answers: dict = {}
    errors: list[BaseException] = []

    def holder() -> None:
        try:
            with transaction.atomic():
                _admit_one(tenant.id, now)
                holding.set()
                release.wait(timeout=30)
        except BaseException as exc:
            errors.append(exc)
        finally:
            holding.set()
            connections.close_all()

    def batch() -> None:
        try:
            holding.wait(timeout=30)
            with transaction.atomic():
                answers.update(runs_admit_batch(wanted={tenant.id: 1}, now=now))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=holder), threading.Thread(target=batch)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while not _waiting_on_a_lock():
        assert time.monotonic() < deadline, "the batch never waited for the tenant's lock"
        time.sleep(0.02)
    release.set()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors

    admission = answers[tenant.id]
    assert admission.admitted == 0
    assert isinstance(admission.refusal, QuotaExceeded)
    assert (admission.refusal.window, admission.refusal.used) == ("daily", 2)
    assert UsageWindow.objects.get(tenant=tenant, kind="day").runs_used == 2
