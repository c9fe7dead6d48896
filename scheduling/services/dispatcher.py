"""The dispatcher: claim due schedules, create one slot per cron time, start the slots."""

import time as monotonic_time
from collections import deque
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from scheduling.models import CatchUp, Schedule, ScheduledRun
from scheduling.services.cron import cron_next, cron_times
from scheduling.services.queue import (
    DispatchResult,
    scheduled_runs_process_queue,
    scheduled_runs_start,
)

# Upper bound on the slots one schedule creates after downtime with catch-up "all".
CATCH_UP_MAX_SLOTS = 1000


def schedule_due_slots(*, schedule: Schedule, now: datetime) -> list[datetime]:
    """The slot times due now: from ``next_run_at`` up to ``now``, per the catch-up policy."""
    if schedule.next_run_at is None or schedule.next_run_at > now:
        return []
    keep = 1 if schedule.catch_up == CatchUp.LATEST else CATCH_UP_MAX_SLOTS
    due: deque[datetime] = deque(maxlen=keep)
    after = schedule.next_run_at - timedelta(microseconds=1)
    for at in cron_times(schedule.cron, schedule.timezone, after=after):
        if at > now:
            break
        due.append(at)
    return list(due)


def schedule_dispatch_due(
    *, now: datetime | None = None, batch_size: int = 500, enqueue: bool = True
) -> DispatchResult:
    """Claim up to ``batch_size`` due schedules, create their slots, and start them.

    Claiming uses ``SELECT ... FOR UPDATE SKIP LOCKED``, so dispatchers running at once
    split the due schedules between them; the unique (schedule, slot_at) constraint makes
    a slot that two of them computed exist once, and a slot starts only from QUEUED.
    """
    now = now or timezone.now()
    result = DispatchResult()
    with transaction.atomic():
        due = list(
            Schedule.objects.select_for_update(skip_locked=True)
            .filter(active=True, next_run_at__lte=now)
            .order_by("next_run_at")[:batch_size]
        )
        slots = []
        for schedule in due:
            times = schedule_due_slots(schedule=schedule, now=now)
            slots.extend(
                ScheduledRun(
                    schedule=schedule,
                    tenant_id=schedule.tenant_id,
                    slot_at=at,
                    priority=schedule.priority,
                    next_attempt_at=at,
                )
                for at in times
            )
            if times:
                schedule.last_slot_at = times[-1]
            schedule.next_run_at = cron_next(schedule.cron, schedule.timezone, after=now)
        ScheduledRun.objects.bulk_create(slots, ignore_conflicts=True, batch_size=1000)
        Schedule.objects.bulk_update(due, ["next_run_at", "last_slot_at"], batch_size=1000)
    result.schedules, result.slots = len(due), len(slots)
    if due:
        result += scheduled_runs_start(
            slots=ScheduledRun.objects.filter(schedule__in=[s.pk for s in due]),
            now=now,
            enqueue=enqueue,
        )
    return result


def scheduler_tick(
    *,
    now: datetime | None = None,
    batch_size: int = 500,
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
