"""Two dispatchers at once, on PostgreSQL, over many ticks: every slot starts exactly once."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction

from pipelines.models import PipelineRun
from scheduling.models import CatchUp, Schedule, ScheduledRun, SlotState
from scheduling.services.cron import cron_between
from scheduling.services.dispatcher import schedule_dispatch_due, scheduler_tick
from scheduling.tests.conftest import T0
from scheduling.tests.factories import make_schedule, tenant_on_plan

TICKS = 40
TICK = timedelta(minutes=4)
SCHEDULES = 16


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_dispatchers_racing_start_each_slot_once(requires_postgres):
    """Two threads (two connections) tick in lockstep with small batches; no slot is doubled."""
    crons = ["*/5 * * * *", "*/7 * * * *", "0,30 * * * *", "*/3 * * * *"]
    for i in range(SCHEDULES):
        tenant = tenant_on_plan(runs_per_day=10_000, runs_per_month=100_000, concurrent_runs=10_000)
        make_schedule(tenant=tenant, now=T0, cron=crons[i % 4], catch_up=CatchUp.ALL)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    started = [0, 0]

    def dispatcher(index: int) -> None:
        try:
            for tick in range(1, TICKS + 1):
                barrier.wait(timeout=60)
                result = scheduler_tick(now=T0 + tick * TICK, batch_size=3, enqueue=False)
                started[index] += result.started
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not errors, errors

    end = T0 + TICKS * TICK
    expected = {
        (schedule.pk, at)
        for schedule in Schedule.objects.all()
        for at in cron_between(schedule.cron, schedule.timezone, after=T0, until=end, limit=10_000)
    }
    slots = list(ScheduledRun.objects.values_list("schedule_id", "slot_at", "state", "run_id"))
    assert len(slots) == len(expected)
    assert {(s, at) for s, at, _, _ in slots} == expected
    assert {state for _, _, state, _ in slots} == {SlotState.STARTED}
    assert len({run_id for *_, run_id in slots}) == len(slots)
    assert PipelineRun.objects.count() == len(slots)
    assert sum(started) == len(slots)
    # Both dispatchers did part of the work, so they really raced.
    assert min(started) > 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_claims_get_disjoint_schedules(requires_postgres):
    """While one dispatcher holds its claim (its transaction open), a second one at once
    claims only the other due schedules, without waiting: the claim skips locked rows.

    The unique slot constraint alone would make the slots exist once, but the second
    dispatcher would claim the first one's schedules too and wait on their locks.
    """
    for _ in range(6):
        tenant = tenant_on_plan(runs_per_day=10_000, runs_per_month=100_000, concurrent_runs=10_000)
        make_schedule(tenant=tenant, now=T0, cron="0 * * * *")
    now = T0 + timedelta(hours=1, minutes=1)
    claimed = threading.Event()
    second_done = threading.Event()
    results: dict[str, object] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                results["first"] = schedule_dispatch_due(now=now, batch_size=2, enqueue=False)
                claimed.set()
                # Hold the claim while the second dispatcher runs (or until it is stuck).
                results["second_finished_in_time"] = second_done.wait(timeout=10)
        finally:
            claimed.set()

    def second() -> None:
        claimed.wait(timeout=60)
        results["second"] = schedule_dispatch_due(now=now, enqueue=False)
        second_done.set()

    errors = _threads_run(first, second)
    assert not errors, errors

    assert results["second_finished_in_time"] is True
    assert results["first"].schedules == 2
    assert results["second"].schedules == 4
    slots = list(ScheduledRun.objects.values_list("schedule_id", flat=True))
    assert sorted(slots) == sorted(Schedule.objects.values_list("pk", flat=True))


def _threads_run(*targets) -> list[BaseException]:
    """Run each target in a thread of its own (its own connection); what they raised."""
    errors: list[BaseException] = []

    def guarded(target) -> None:
        try:
            target()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors
