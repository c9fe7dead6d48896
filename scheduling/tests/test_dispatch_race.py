"""Two dispatchers at once, on PostgreSQL, over many ticks: every slot starts exactly once."""

import threading
from datetime import timedelta

import pytest
from django.db import connection

from pipelines.models import PipelineRun
from scheduling.models import CatchUp, Schedule, ScheduledRun, SlotState
from scheduling.services.cron import cron_between
from scheduling.services.dispatcher import scheduler_tick
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
