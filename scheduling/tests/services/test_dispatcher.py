"""The dispatcher: one run per slot, catch-up, quotas (queue, skip), DST over many ticks."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pipelines.models import PipelineRun, RunStatus, SlotCounter
from pipelines.services.runs import run_finish
from scheduling.models import CatchUp, ScheduledRun, SlotState
from scheduling.services.dispatcher import schedule_dispatch_due, scheduler_tick
from scheduling.services.queue import scheduled_runs_process_queue
from scheduling.tests.conftest import T0
from scheduling.tests.factories import OTHER_PIPELINE, make_schedule, tenant_on_plan
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def _finish_all(status=RunStatus.COMPLETED):
    for run in PipelineRun.objects.filter(status__in=[RunStatus.PENDING, RunStatus.RUNNING]):
        run_finish(run=run, status=status)


def test_a_due_schedule_starts_one_run_and_moves_on(roomy_tenant):
    """At its time the schedule gets one STARTED slot with a scheduled run; next_run_at moves on."""
    schedule = make_schedule(tenant=roomy_tenant, now=T0, cron="30 8 * * *")
    assert schedule.next_run_at == T0.replace(minute=30)
    assert schedule_dispatch_due(now=T0 + timedelta(minutes=29), enqueue=False).slots == 0

    at = T0 + timedelta(minutes=30, seconds=2)
    result = schedule_dispatch_due(now=at, enqueue=False)

    assert (result.schedules, result.slots, result.started) == (1, 1, 1)
    slot = ScheduledRun.objects.get()
    assert slot.slot_at == T0.replace(minute=30)
    assert slot.state == SlotState.STARTED
    assert slot.run.trigger == PipelineRun.Trigger.SCHEDULED
    assert slot.run.parameters["date"] == "2024-06-03"
    schedule.refresh_from_db()
    assert schedule.next_run_at == T0.replace(minute=30) + timedelta(days=1)
    assert schedule_dispatch_due(now=at, enqueue=False).schedules == 0
    assert PipelineRun.objects.count() == 1


def test_the_same_slot_dispatched_twice_makes_one_run(roomy_tenant):
    """If next_run_at is wound back (a crashed dispatcher), the existing slot is not rerun."""
    schedule = make_schedule(tenant=roomy_tenant, now=T0)
    schedule_dispatch_due(now=T0 + timedelta(hours=1), enqueue=False)
    type(schedule).objects.filter(pk=schedule.pk).update(next_run_at=T0 + timedelta(hours=1))
    schedule_dispatch_due(now=T0 + timedelta(hours=1), enqueue=False)
    assert ScheduledRun.objects.count() == 1
    assert PipelineRun.objects.count() == 1


def test_a_due_slot_a_backfill_made_already_starts_once_and_counts_once(roomy_tenant):
    """The set-based start writes new slots already started; when one exists already (a
    backfill queued it), the batch is rolled back and the slot starts from the queue: one
    run, one slot, one run counted against the day."""
    from datetime import date

    from scheduling.services.schedules import schedule_backfill
    from scheduling.tests.factories import TEST_ACTOR

    schedule = make_schedule(tenant=roomy_tenant, now=T0)
    at = T0 + timedelta(hours=1)
    schedule_backfill(
        schedule=schedule, start=date(2024, 6, 3), end=date(2024, 6, 3), actor=TEST_ACTOR, now=at
    )
    assert ScheduledRun.objects.filter(slot_at=at, state=SlotState.QUEUED).count() == 1
    result = schedule_dispatch_due(now=at + timedelta(seconds=1), enqueue=False)
    slot = ScheduledRun.objects.get(slot_at=at)
    assert slot.state == SlotState.STARTED and slot.run is not None
    assert PipelineRun.objects.filter(parameters__date="2024-06-03").count() == (
        ScheduledRun.objects.filter(state=SlotState.STARTED).count()
    )
    assert result.started >= 1
    day = roomy_tenant.usage_windows.get(kind="day")
    assert day.runs_used == PipelineRun.objects.count()


@pytest.mark.parametrize(("catch_up", "expected"), [(CatchUp.LATEST, 1), (CatchUp.ALL, 5)])
def test_catch_up_after_downtime(roomy_tenant, catch_up, expected):
    """After five missed hourly slots: "latest" runs only the last one, "all" runs all five."""
    make_schedule(tenant=roomy_tenant, now=T0, catch_up=catch_up)
    back_at = T0 + timedelta(hours=5, minutes=10)
    scheduler_tick(now=back_at, enqueue=False)
    slots = list(ScheduledRun.objects.order_by("slot_at").values_list("slot_at", flat=True))
    assert len(slots) == expected
    assert slots[-1] == T0 + timedelta(hours=5)
    assert PipelineRun.objects.count() == expected


def test_over_the_concurrent_limit_a_slot_waits_and_starts_when_a_slot_frees(db):
    """Concurrent limit 1: the second slot stays QUEUED until the first run ends."""
    tenant = tenant_on_plan(concurrent_runs=1)
    make_schedule(tenant=tenant, now=T0, cron="0 9 * * *", priority=1)
    later = make_schedule(tenant=tenant, now=T0, cron="0 9 * * *", **OTHER_PIPELINE)
    at = T0 + timedelta(hours=1)
    result = scheduler_tick(now=at, enqueue=False)

    assert result.started == 1
    queued = ScheduledRun.objects.get(state=SlotState.QUEUED)
    assert "Concurrent run limit reached" in queued.reason
    first = ScheduledRun.objects.get(state=SlotState.STARTED)
    # The higher-priority schedule took the free slot.
    assert first.schedule.priority == 1

    assert scheduled_runs_process_queue(now=at, enqueue=False).started == 0
    run_finish(run=first.run, status=RunStatus.COMPLETED)
    assert scheduled_runs_process_queue(now=at, enqueue=False).started == 1
    queued.refresh_from_db()
    assert queued.state == SlotState.STARTED
    assert queued.schedule_id == later.pk


def test_over_the_daily_limit_a_slot_is_skipped_with_the_reason(db):
    """Daily limit 1: the second slot that day is SKIPPED, naming the limit; no run is made."""
    tenant = tenant_on_plan(runs_per_day=1, concurrent_runs=5)
    make_schedule(tenant=tenant, now=T0, cron="0 9 * * *", catch_up=CatchUp.ALL)
    make_schedule(tenant=tenant, now=T0, cron="0 9 * * *", catch_up=CatchUp.ALL, **OTHER_PIPELINE)
    scheduler_tick(now=T0 + timedelta(hours=1), enqueue=False)
    skipped = ScheduledRun.objects.get(state=SlotState.SKIPPED)
    assert skipped.reason == "Daily run limit reached: 1 of 1 used."
    assert skipped.run is None
    assert PipelineRun.objects.count() == 1


def test_a_suspended_tenants_slot_is_skipped(roomy_tenant):
    """A tenant that may not run gets its slot SKIPPED with the status in the reason."""
    make_schedule(tenant=roomy_tenant, now=T0)
    Tenant.objects.filter(pk=roomy_tenant.pk).update(status=Tenant.Status.SUSPENDED)
    scheduler_tick(now=T0 + timedelta(hours=1), enqueue=False)
    slot = ScheduledRun.objects.get()
    assert slot.state == SlotState.SKIPPED
    assert "SUSPENDED" in slot.reason
    assert PipelineRun.objects.count() == 0


def test_an_inactive_schedule_is_not_dispatched(roomy_tenant):
    """active=False: nothing is created however late it is."""
    make_schedule(tenant=roomy_tenant, now=T0, active=False)
    assert scheduler_tick(now=T0 + timedelta(days=2), enqueue=False).slots == 0
    assert not ScheduledRun.objects.exists()


@pytest.mark.parametrize(
    ("tz", "cron", "start"),
    [
        ("America/New_York", "30 2 * * *", datetime(2024, 3, 8, tzinfo=UTC)),
        ("America/New_York", "30 2 * * *", datetime(2024, 10, 31, tzinfo=UTC)),
        ("America/New_York", "30 1 * * *", datetime(2024, 10, 31, tzinfo=UTC)),
        ("Europe/London", "30 1 * * *", datetime(2024, 3, 28, tzinfo=UTC)),
        ("Europe/London", "30 1 * * *", datetime(2024, 10, 24, tzinfo=UTC)),
    ],
)
def test_dispatching_every_half_hour_across_dst_runs_once_per_local_day(
    roomy_tenant, tz, cron, start
):
    """Ticking every 30 minutes over six days around a DST change: one run per local day."""
    make_schedule(tenant=roomy_tenant, now=start, cron=cron, timezone=tz)
    now = start
    while now < start + timedelta(days=6):
        now += timedelta(minutes=30)
        scheduler_tick(now=now, enqueue=False)
        _finish_all()
    zone = ZoneInfo(tz)
    slots = list(ScheduledRun.objects.values_list("slot_at", "state"))
    days = Counter(slot_at.astimezone(zone).date() for slot_at, _ in slots)
    assert len(days) == 6
    assert set(days.values()) == {1}
    assert {state for _, state in slots} == {SlotState.COMPLETED}
    assert PipelineRun.objects.count() == 6
    # Each run's date parameter is its local day.
    dates = sorted(PipelineRun.objects.values_list("parameters__date", flat=True))
    assert dates == sorted(d.isoformat() for d in days)


def test_a_batch_admits_each_tenant_as_one_by_one_admission_would(db):
    """One batch, three tenants: daily limit 2 of 5 slots (3 skipped, naming 2 of 2), concurrent
    limit 1 of 3 slots (2 stay queued), and a suspended tenant (all skipped)."""
    daily = tenant_on_plan(runs_per_day=2, concurrent_runs=10)
    concurrent = tenant_on_plan(runs_per_day=10, concurrent_runs=1)
    suspended = tenant_on_plan(runs_per_day=10, concurrent_runs=10, status=Tenant.Status.SUSPENDED)
    for tenant in (daily, concurrent, suspended):
        make_schedule(tenant=tenant, now=T0, catch_up=CatchUp.ALL)
    # Five hourly slots each (09:00 to 13:00), all in one batch.
    result = scheduler_tick(now=T0 + timedelta(hours=5, minutes=1), enqueue=False)

    def states(tenant):
        return Counter(ScheduledRun.objects.filter(tenant=tenant).values_list("state", flat=True))

    assert states(daily) == {SlotState.STARTED: 2, SlotState.SKIPPED: 3}
    assert set(
        ScheduledRun.objects.filter(tenant=daily, state=SlotState.SKIPPED).values_list(
            "reason", flat=True
        )
    ) == {"Daily run limit reached: 2 of 2 used."}
    # The oldest slots start first.
    started = ScheduledRun.objects.filter(tenant=daily, state=SlotState.STARTED)
    assert sorted(started.values_list("slot_at", flat=True)) == [
        T0 + timedelta(hours=1),
        T0 + timedelta(hours=2),
    ]
    assert states(concurrent) == {SlotState.STARTED: 1, SlotState.QUEUED: 4}
    assert states(suspended) == {SlotState.SKIPPED: 5}
    assert result.started == 3
    assert PipelineRun.objects.count() == 3
    day = daily.usage_windows.get(kind="day")
    assert day.runs_used == 2
    assert SlotCounter.objects.get(tenant=concurrent).held == 1


def test_a_failing_batch_falls_back_to_starting_slots_one_by_one(roomy_tenant, monkeypatch):
    """If the batch path fails unexpectedly, its slots still start, each in its own transaction."""
    import scheduling.services.queue as queue

    def broken(**kwargs):
        raise RuntimeError("batch path broken")

    monkeypatch.setattr(queue, "pipeline_runs_start_batch", broken)
    make_schedule(tenant=roomy_tenant, now=T0, catch_up=CatchUp.ALL)
    result = scheduler_tick(now=T0 + timedelta(hours=3, minutes=1), enqueue=False)
    assert result.started == 3
    assert set(ScheduledRun.objects.values_list("state", flat=True)) == {SlotState.STARTED}
    assert PipelineRun.objects.count() == 3
