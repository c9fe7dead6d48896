"""Failed scheduled runs are retried with exponential backoff, up to the schedule's limit."""

from datetime import timedelta

import pytest

from pipelines.models import PipelineRun, RunStatus
from pipelines.services.runs import run_finish
from scheduling.models import ScheduledRun, SlotState
from scheduling.services.dispatcher import scheduler_tick
from scheduling.services.queue import (
    retry_delay,
    scheduled_runs_process_queue,
    scheduled_runs_sync,
)
from scheduling.tests.conftest import T0
from scheduling.tests.factories import make_schedule

pytestmark = pytest.mark.django_db


def test_backoff_doubles():
    """60 s, then 120 s, then 240 s."""
    assert [retry_delay(base_seconds=60, retry=n).total_seconds() for n in (1, 2, 3)] == [
        60,
        120,
        240,
    ]


def test_a_failing_slot_is_retried_three_times_with_backoff_then_fails(roomy_tenant):
    """Failure n re-queues the slot for ended_at + 60 s * 2^(n-1); the fourth is final."""
    make_schedule(tenant=roomy_tenant, now=T0, max_retries=3, retry_backoff_seconds=60)
    scheduler_tick(now=T0 + timedelta(hours=1), enqueue=False)
    slot = ScheduledRun.objects.get()
    waits = []
    for attempt in (1, 2, 3):
        run = slot.run
        assert run.attempt == attempt
        run_finish(run=run, status=RunStatus.FAILED, error=f"boom {attempt}")
        run.refresh_from_db()
        assert scheduled_runs_sync().retried == 1
        slot.refresh_from_db()
        assert slot.state == SlotState.QUEUED
        assert slot.attempt == attempt + 1
        assert f"boom {attempt}" in slot.reason
        waits.append((slot.next_attempt_at - run.ended_at).total_seconds())
        # Not a moment before its time ...
        early = scheduled_runs_process_queue(
            now=slot.next_attempt_at - timedelta(seconds=1), enqueue=False
        )
        assert early.started == 0
        # ... and started once it has come.
        assert scheduled_runs_process_queue(now=slot.next_attempt_at, enqueue=False).started == 1
        slot.refresh_from_db()
        assert slot.run.trigger == PipelineRun.Trigger.RETRY
    assert waits == [60, 120, 240]

    run_finish(run=slot.run, status=RunStatus.FAILED, error="boom 4")
    assert scheduled_runs_sync().finished == 1
    slot.refresh_from_db()
    assert slot.state == SlotState.FAILED
    assert slot.reason == "Failed after 4 attempts: boom 4"
    assert len(slot.previous_run_ids) == 3
    assert PipelineRun.objects.filter(status=RunStatus.FAILED).count() == 4


def test_a_completed_run_is_not_retried(roomy_tenant):
    """Success settles the slot as COMPLETED and creates nothing more."""
    make_schedule(tenant=roomy_tenant, now=T0)
    scheduler_tick(now=T0 + timedelta(hours=1), enqueue=False)
    run_finish(run=ScheduledRun.objects.get().run, status=RunStatus.COMPLETED)
    result = scheduled_runs_process_queue(now=T0 + timedelta(hours=1, minutes=5), enqueue=False)
    assert (result.finished, result.retried, result.started) == (1, 0, 0)
    assert ScheduledRun.objects.get().state == SlotState.COMPLETED
    assert PipelineRun.objects.count() == 1


def test_max_retries_zero_fails_at_once(roomy_tenant):
    """A schedule with no retries: the first failure is final."""
    make_schedule(tenant=roomy_tenant, now=T0, max_retries=0)
    scheduler_tick(now=T0 + timedelta(hours=1), enqueue=False)
    run_finish(run=ScheduledRun.objects.get().run, status=RunStatus.FAILED, error="x")
    scheduled_runs_sync()
    assert ScheduledRun.objects.get().state == SlotState.FAILED
