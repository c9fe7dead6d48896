"""The dispatcher: claim due schedules, create one slot per cron time, start the slots."""

import json
import logging
import time as monotonic_time
from collections import deque
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from core.bulk import array_literal, rows_create, rows_update, values_in
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
# Schedules claimed per transaction. Each batch is a fixed number of statements, so one
# batch for a whole 10,000-slot burst costs least in all (measured: two thirds of the CPU
# and half the time inside ticks of ten batches of 1,000 split over two workers, which on
# two cores mostly wait for each other and their PostgreSQL backends);
# it holds its schedules' and tenants' locks (others skip or wait) until it commits, one
# to two seconds at that size. A larger burst is split, and another worker's tick takes
# the next batch.
DISPATCH_BATCH_SIZE = 10_000


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
    Set-based, in one transaction: one claim, one update of the schedules' next run times,
    then the slots are written and started as a batch (``_slots_start``), a fixed number
    of statements whatever the batch's size.
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
                ),
                # As text: parsed once per distinct value below, not once per schedule (a
                # burst's schedules share one due time; Django's timestamp loader is Python).
                next_run_at_text=Cast("next_run_at", TextField()),
                parameters_text=Cast("parameters", TextField()),
            )
            .values_list(
                "pk",
                "tenant_id",
                "priority",
                "queue_waiting",
                "cron",
                "timezone",
                "next_run_at_text",
                "catch_up",
                "provider",
                "domain",
                "pipeline",
                "parameters_text",
            )[:batch_size]
        )
        if not due:
            return result
        slots: list[tuple] = []  # (schedule, tenant, slot time, priority)
        # Schedules that share a cron, timezone and due time (the 02:00 burst) share the
        # cron arithmetic: once per distinct (cron, timezone), not once per schedule; and
        # those that share a pipeline and parameters share one (pipeline, parameters).
        due_times: dict[tuple, list[datetime]] = {}
        next_times: dict[tuple[str, str], datetime] = {}
        pipelines: dict[tuple, tuple] = {}
        advanced: dict[int, tuple[datetime, datetime]] = {}  # new next run time, last slot
        untouched: dict[int, tuple[datetime]] = {}  # nothing due after all: next run time only
        by_schedule: dict[int, tuple] = {}
        waiting: set[str] = set()
        due_at: dict[str, datetime] = {}
        for row in due:
            pk, tenant_id, priority, queue_waiting, cron, tz, due_text, catch_up = row[:8]
            next_run_at = due_at.get(due_text)
            if next_run_at is None:
                # ISO text: PostgreSQL's in the connection's time zone (UTC), with its
                # offset; SQLite's as stored, UTC without one.
                next_run_at = datetime.fromisoformat(due_text)
                if next_run_at.tzinfo is None:
                    next_run_at = next_run_at.replace(tzinfo=UTC)
                due_at[due_text] = next_run_at
            key = (cron, tz, next_run_at, catch_up)
            times = due_times.get(key)
            if times is None:
                times = due_times[key] = _due_slots(
                    cron=cron, tz=tz, next_run_at=next_run_at, catch_up=catch_up, now=now
                )
            slots.extend([(pk, tenant_id, at, priority) for at in times])
            following = next_times.get((cron, tz))
            if following is None:
                following = next_times[(cron, tz)] = cron_next(cron, tz, after=now)
            if times:
                advanced[pk] = (following, times[-1])
            else:
                untouched[pk] = (following,)
            what = (*row[8:], tz)  # provider, domain, pipeline, parameters as text
            shared = pipelines.get(what)
            if shared is None:
                shared = pipelines[what] = (*row[8:11], json.loads(row[11]), tz)
            by_schedule[pk] = shared
            if queue_waiting:
                waiting.add(tenant_id)
        _schedules_advance(advanced=advanced, untouched=untouched)
        result.schedules, result.slots = len(due), len(slots)
        result += _slots_start(
            slots=slots, pipelines=by_schedule, waiting=waiting, now=now, enqueue=enqueue
        )
    return result


# Each claimed schedule's next run time and last slot, sent once per distinct pair (in a
# burst, one pair for thousands of schedules): the schedules name their pair by number.
_ADVANCE_SQL = """
UPDATE {schedule} AS s
SET next_run_at = g.next_run_at, last_slot_at = COALESCE(g.last_slot_at, s.last_slot_at)
FROM unnest(%s::bigint[], %s::int[]) AS v(id, pair)
JOIN unnest(%s::timestamptz[], %s::timestamptz[]) WITH ORDINALITY
    AS g(next_run_at, last_slot_at, pair) ON g.pair = v.pair
WHERE s.id = v.id
"""


def _schedules_advance(
    *, advanced: dict[int, tuple[datetime, datetime]], untouched: dict[int, tuple[datetime]]
) -> None:
    """Move claimed schedules on: ``advanced`` to (next run time, last slot), ``untouched``
    (nothing was due after all) to a next run time, keeping their last slot."""
    if connection.vendor != "postgresql":
        rows_update(Schedule, key="id", fields=["next_run_at", "last_slot_at"], rows=advanced)
        rows_update(Schedule, key="id", fields=["next_run_at"], rows=untouched)
        return
    pairs: dict[tuple[datetime, datetime | None], int] = {}
    ids, numbers = [], []
    moves = [
        *advanced.items(),
        *((pk, (following, None)) for pk, (following,) in untouched.items()),
    ]
    for pk, pair in moves:
        ids.append(pk)
        numbers.append(pairs.setdefault(pair, len(pairs) + 1))
    if not ids:
        return
    sql = _ADVANCE_SQL.format(schedule=Schedule._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                array_literal(ids),
                array_literal(numbers),
                array_literal([following for following, _ in pairs]),
                array_literal([last for _, last in pairs]),
            ],
        )


def _slots_start(
    *,
    slots: list[tuple],
    pipelines: dict[int, tuple],
    waiting: set[str],
    now: datetime,
    enqueue: bool,
) -> DispatchResult:
    """Create the new slots (schedule, tenant, slot time, priority) and start them, in the
    caller's transaction.

    On PostgreSQL, slots of tenants with no queued slot are written once, already started
    (``scheduled_runs_start_new``); a tenant with queued slots (``waiting``) keeps its
    order (priority, then age), so its new slots join the queue, which starts what can
    start now.
    """
    result = DispatchResult()
    fresh: list[tuple] = []
    if connection.vendor == "postgresql":
        fresh = [s for s in slots if s[1] not in waiting] if waiting else slots
    if fresh:
        try:
            with transaction.atomic():
                result += scheduled_runs_start_new(
                    slots=fresh, schedules=pipelines, now=now, enqueue=enqueue
                )
            slots = [s for s in slots if s[1] in waiting]
        except SlotsExisted:
            pass  # rolled back: they are created and started as queued slots below
        except Exception:
            logger.exception("starting %d new slots together failed; queueing them", len(fresh))
    if not slots:
        return result
    rows_create(
        ScheduledRun,
        rows=[
            {
                "schedule_id": schedule_id,
                "tenant_id": tenant_id,
                "slot_at": slot_at,
                "priority": priority,
                "next_attempt_at": slot_at,
            }
            for schedule_id, tenant_id, slot_at, priority in slots
        ],
        ignore_conflicts=True,
    )
    result += scheduled_runs_start(
        slots=ScheduledRun.objects.filter(
            schedule_id__in=values_in(sorted({s[0] for s in slots}), db_type="bigint")
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
