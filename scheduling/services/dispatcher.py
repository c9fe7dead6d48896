"""The dispatcher: claim due schedules, create one slot per cron time, start the slots."""

import time as monotonic_time
from collections import defaultdict, deque
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from convergence.bulk import rows_create, rows_update
from scheduling.models import CatchUp, Schedule, ScheduledRun
from scheduling.services.cron import cron_next, cron_times
from scheduling.services.queue import (
    DispatchResult,
    scheduled_runs_process_queue,
    scheduled_runs_start,
)

# Upper bound on the slots one schedule creates after downtime with catch-up "all".
CATCH_UP_MAX_SLOTS = 1000
# Above this many distinct (next run, last slot) pairs in a batch, one bulk UPDATE instead.
ADVANCE_GROUPS_MAX = 20


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
    *, now: datetime | None = None, batch_size: int = 500, enqueue: bool = True
) -> DispatchResult:
    """Claim up to ``batch_size`` due schedules, create their slots, and start them.

    Claiming uses ``SELECT ... FOR UPDATE SKIP LOCKED``, so dispatchers running at once
    split the due schedules between them; the unique (schedule, slot_at) constraint makes
    a slot that two of them computed exist once, and a slot starts only from QUEUED.
    Set-based: one claim, one insert of the slots, one update per distinct next run time,
    then the slots start in batches (``scheduled_runs_start``).
    """
    now = now or timezone.now()
    result = DispatchResult()
    with transaction.atomic():
        due = list(
            Schedule.objects.select_for_update(skip_locked=True)
            .filter(active=True, next_run_at__lte=now)
            .order_by("next_run_at")
            .values_list(
                "pk",
                "tenant_id",
                "cron",
                "timezone",
                "next_run_at",
                "catch_up",
                "priority",
                "last_slot_at",
            )[:batch_size]
        )
        slots = []
        # Schedules that share a cron, timezone and due time (the 02:00 burst) share the
        # cron arithmetic, and are advanced by one UPDATE per distinct outcome.
        due_times: dict[tuple, list[datetime]] = {}
        next_times: dict[tuple[str, str], datetime] = {}
        advance: dict[tuple[datetime, datetime | None], list[int]] = defaultdict(list)
        for pk, tenant_id, cron, tz, next_run_at, catch_up, priority, last_slot_at in due:
            key = (cron, tz, next_run_at, catch_up)
            if key not in due_times:
                due_times[key] = _due_slots(
                    cron=cron, tz=tz, next_run_at=next_run_at, catch_up=catch_up, now=now
                )
            times = due_times[key]
            slots.extend(
                {
                    "schedule_id": pk,
                    "tenant_id": tenant_id,
                    "slot_at": at,
                    "priority": priority,
                    "next_attempt_at": at,
                }
                for at in times
            )
            if (cron, tz) not in next_times:
                next_times[(cron, tz)] = cron_next(cron, tz, after=now)
            advance[(next_times[(cron, tz)], times[-1] if times else last_slot_at)].append(pk)
        rows_create(ScheduledRun, rows=slots, ignore_conflicts=True)
        if len(advance) > ADVANCE_GROUPS_MAX:
            rows_update(
                Schedule,
                key="id",
                fields=["next_run_at", "last_slot_at"],
                rows={pk: outcome for outcome, pks in advance.items() for pk in pks},
            )
        else:
            for (next_run_at, last_slot_at), pks in advance.items():
                Schedule.objects.filter(pk__in=pks).update(
                    next_run_at=next_run_at, last_slot_at=last_slot_at
                )
    result.schedules, result.slots = len(due), len(slots)
    if due:
        result += scheduled_runs_start(
            slots=ScheduledRun.objects.filter(schedule__in=[row[0] for row in due]),
            now=now,
            enqueue=enqueue,
            batch_size=batch_size,
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
