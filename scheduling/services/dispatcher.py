"""The dispatcher: claim due schedules, create one slot per cron time, start the slots."""

import logging
import time as monotonic_time
from collections import deque
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from convergence.bulk import rows_create, rows_update, values_in
from scheduling.models import CatchUp, Schedule, ScheduledRun, SlotState
from scheduling.services.cron import cron_next, cron_times
from scheduling.services.queue import (
    DispatchResult,
    SlotsExisted,
    scheduled_runs_process_queue,
    scheduled_runs_start,
    scheduled_runs_start_new,
)

logger = logging.getLogger(__name__)

# Upper bound on the slots one schedule creates after downtime with catch-up "all".
CATCH_UP_MAX_SLOTS = 1000
# Schedules claimed per transaction: each batch is a fixed number of statements, so larger
# batches cost fewer round trips per run; a batch holds its schedules' and tenants' locks
# (others skip or wait) for the time it takes, about a second per 10,000 runs.
DISPATCH_BATCH_SIZE = 1000


def schedule_due_slots(*, schedule: Schedule, now: datetime) -> list[datetime]:
    """The slot times due now: from ``next_run_at`` up to ``now``, per the catch-up policy."""
    return _due_slots(
        cron=schedule.cron,
        tz=schedule.timezone,
        next_run_at=schedule.next_run_at,
        catch_up=schedule.catch_up,
        now=now,
    )


def _due_slots(
    *, cron: str, tz: str, next_run_at: datetime | None, catch_up: str, now: datetime
) -> list[datetime]:
    if next_run_at is None or next_run_at > now:
        return []
    keep = 1 if catch_up == CatchUp.LATEST else CATCH_UP_MAX_SLOTS
    due: deque[datetime] = deque(maxlen=keep)
    after = next_run_at - timedelta(microseconds=1)
    for at in cron_times(cron, tz, after=after):
        if at > now:
            break
        due.append(at)
    return list(due)


def schedule_dispatch_due(
    *, now: datetime | None = None, batch_size: int = DISPATCH_BATCH_SIZE, enqueue: bool = True
) -> DispatchResult:
    """Claim up to ``batch_size`` due schedules, create their slots, and start them.

    Claiming uses ``SELECT ... FOR UPDATE SKIP LOCKED``, so dispatchers running at once
    split the due schedules between them; the unique (schedule, slot_at) constraint makes
    a slot that two of them computed exist once, and a slot starts only from QUEUED.
    Set-based, in one transaction: one claim, one insert of the slots, one update of the
    schedules' next run times, then the slots start as a batch (``scheduled_runs_start``),
    a fixed number of statements whatever the batch's size.
    """
    now = now or timezone.now()
    result = DispatchResult()
    with transaction.atomic():
        due = list(
            Schedule.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(active=True, next_run_at__lte=now)
            .order_by("next_run_at")
            .annotate(
                # The tenant has slots waiting: new ones join that queue (``_slots_start``).
                queue_waiting=Exists(
                    ScheduledRun.objects.filter(
                        tenant_id=OuterRef("tenant_id"), state=SlotState.QUEUED
                    )
                )
            )
            .values_list(
                "pk",
                "tenant_id",
                "cron",
                "timezone",
                "next_run_at",
                "catch_up",
                "priority",
                "last_slot_at",
                "provider",
                "domain",
                "pipeline",
                "parameters",
                "queue_waiting",
            )[:batch_size]
        )
        if not due:
            return result
        slots = []
        # Schedules that share a cron, timezone and due time (the 02:00 burst) share the
        # cron arithmetic: once per distinct (cron, timezone), not once per schedule.
        due_times: dict[tuple, list[datetime]] = {}
        next_times: dict[tuple[str, str], datetime] = {}
        advance: dict[int, tuple[datetime, datetime | None]] = {}
        pipelines: dict[int, tuple] = {}
        waiting: set[str] = set()
        for row in due:
            pk, tenant_id, cron, tz, next_run_at, catch_up, priority, last_slot_at = row[:8]
            key = (cron, tz, next_run_at, catch_up)
            times = due_times.get(key)
            if times is None:
                times = due_times[key] = _due_slots(
                    cron=cron, tz=tz, next_run_at=next_run_at, catch_up=catch_up, now=now
                )
            slots.extend(
                {"schedule_id": pk, "tenant_id": tenant_id, "slot_at": at, "priority": priority}
                for at in times
            )
            following = next_times.get((cron, tz))
            if following is None:
                following = next_times[(cron, tz)] = cron_next(cron, tz, after=now)
            advance[pk] = (following, times[-1] if times else last_slot_at)
            pipelines[pk] = (*row[8:12], tz)
            if row[12]:
                waiting.add(tenant_id)
        rows_update(Schedule, key="id", fields=["next_run_at", "last_slot_at"], rows=advance)
        result.schedules, result.slots = len(due), len(slots)
        result += _slots_start(
            slots=slots, pipelines=pipelines, waiting=waiting, now=now, enqueue=enqueue
        )
    return result


def _slots_start(
    *,
    slots: list[dict],
    pipelines: dict[int, tuple],
    waiting: set[str],
    now: datetime,
    enqueue: bool,
) -> DispatchResult:
    """Create the new slots and start them, in the caller's transaction.

    On PostgreSQL, slots of tenants with no queued slot are written once, already started
    (``scheduled_runs_start_new``); a tenant with queued slots (``waiting``) keeps its
    order (priority, then age), so its new slots join the queue, which starts what can
    start now.
    """
    result = DispatchResult()
    fresh: list[dict] = []
    if connection.vendor == "postgresql":
        fresh = [s for s in slots if s["tenant_id"] not in waiting]
    if fresh:
        try:
            with transaction.atomic():
                result += scheduled_runs_start_new(
                    slots=[dict(s) for s in fresh], schedules=pipelines, now=now, enqueue=enqueue
                )
            slots = [s for s in slots if s["tenant_id"] in waiting]
        except SlotsExisted:
            pass  # rolled back: they are created and started as queued slots below
        except Exception:
            logger.exception("starting %d new slots together failed; queueing them", len(fresh))
    if not slots:
        return result
    rows_create(
        ScheduledRun,
        rows=[{**s, "next_attempt_at": s["slot_at"]} for s in slots],
        ignore_conflicts=True,
    )
    result += scheduled_runs_start(
        slots=ScheduledRun.objects.filter(
            schedule_id__in=values_in(sorted({s["schedule_id"] for s in slots}), db_type="bigint")
        ),
        now=now,
        enqueue=enqueue,
    )
    return result


def scheduler_tick(
    *,
    now: datetime | None = None,
    batch_size: int = DISPATCH_BATCH_SIZE,
    enqueue: bool = True,
    time_budget: float = 30.0,
) -> DispatchResult:
    """One beat of the scheduler: dispatch every due schedule, then work the queue.

    Claims batch after batch until nothing is due or ``time_budget`` seconds have passed
    (the next tick, or another worker running one, carries on from there).
    """
    now = now or timezone.now()
    started = monotonic_time.monotonic()
    result = DispatchResult()
    while True:
        batch = schedule_dispatch_due(now=now, batch_size=batch_size, enqueue=enqueue)
        result += batch
        if batch.schedules < batch_size or monotonic_time.monotonic() - started > time_budget:
            break
    result += scheduled_runs_process_queue(now=now, enqueue=enqueue)
    return result
