"""Starting scheduled slots: admission, waiting for a free concurrency slot, and retries."""

import functools
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.bulk import rows_copy, rows_update, values_in
from pipelines.configs import PipelineConfigError
from pipelines.errors import QuotaExceeded, RunRefused
from pipelines.models import FINAL_STATUSES, PipelineRun, RunStatus
from pipelines.services.runs import RunRequest, pipeline_run_start, pipeline_runs_start_batch
from scheduling.models import Schedule, ScheduledRun, SlotState
from scheduling.services.schedules import slot_parameters

logger = logging.getLogger(__name__)

SCHEDULER_USER_ID = "scheduler"
# Slots that fail for an unexpected reason (not a refusal) are tried again after this.
ERROR_RETRY_DELAY = timedelta(seconds=60)


@dataclass
class DispatchResult:
    """What one pass did: schedules claimed, slots created, and what became of the slots."""

    schedules: int = 0
    slots: int = 0
    started: int = 0
    queued: int = 0
    skipped: int = 0
    retried: int = 0
    finished: int = 0

    def __iadd__(self, other: "DispatchResult") -> "DispatchResult":
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def retry_delay(*, base_seconds: int, retry: int) -> timedelta:
    """Exponential backoff: the first retry waits ``base``, the second twice that, ..."""
    return timedelta(seconds=base_seconds * 2 ** (retry - 1))


def _trigger(slot: ScheduledRun) -> str:
    if slot.attempt > 1:
        return PipelineRun.Trigger.RETRY
    if slot.kind == ScheduledRun.Kind.BACKFILL:
        return PipelineRun.Trigger.BACKFILL
    return PipelineRun.Trigger.SCHEDULED


def scheduled_run_start(
    *, slot_id: int, now: datetime, enqueue: bool = True, schedule: Schedule | None = None
) -> str | None:
    """Try to start one queued slot; returns its new state, or None if it was not ours.

    The slot row is locked (skipping one another process holds) and still QUEUED, and the run
    is created in the same transaction that marks the slot STARTED: a slot starts once.
    """

    with transaction.atomic():
        slot = (
            ScheduledRun.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=slot_id, state=SlotState.QUEUED)
            .first()
        )
        if slot is None:
            return None
        if schedule is None or schedule.pk != slot.schedule_id:
            schedule = Schedule.objects.get(pk=slot.schedule_id)
        slot_date = slot.slot_at.astimezone(ZoneInfo(schedule.timezone)).date()
        update = ["state", "reason", "updated_at"]
        try:
            run = pipeline_run_start(
                tenant_id=schedule.tenant_id,
                provider=schedule.provider,
                domain=schedule.domain,
                pipeline=schedule.pipeline,
                parameters=slot_parameters(schedule.parameters, slot_date=slot_date),
                user_id=SCHEDULER_USER_ID,
                trigger=_trigger(slot),
                attempt=slot.attempt,
                now=now,
                enqueue=enqueue,
            )
        except QuotaExceeded as exc:
            slot.reason = exc.message
            if exc.window != "concurrent":
                slot.state = SlotState.SKIPPED
        except (RunRefused, PipelineConfigError) as exc:
            # Tenant not runnable, parameters or config no longer valid: retrying won't help.
            slot.state, slot.reason = SlotState.SKIPPED, str(exc)
        except Exception as exc:
            logger.exception("scheduled slot %s could not start", slot.pk)
            slot.reason = f"Could not start: {exc}"[:2000]
            slot.next_attempt_at = now + ERROR_RETRY_DELAY
            update.append("next_attempt_at")
        else:
            slot.state, slot.reason, slot.run = SlotState.STARTED, "", run
            update.append("run")
        slot.save(update_fields=update)
    return slot.state


def scheduled_runs_start(
    *,
    slots: QuerySet[ScheduledRun],
    now: datetime,
    enqueue: bool = True,
    limit: int = 10_000,
    batch_size: int = 500,
) -> DispatchResult:
    """Start the given queued slots whose time has come: highest priority first, then oldest.

    Batch by batch (``scheduled_runs_start_batch``). A tenant found at its concurrent limit
    is passed over for the rest of this pass; its slots stay QUEUED and start on a later
    pass, once a run has given its slot back.
    """
    result = DispatchResult()
    full: set[str] = set()
    while limit > 0:
        size = min(batch_size, limit)
        batch, claimed = scheduled_runs_start_batch(
            slots=(
                slots.exclude(tenant_id__in=values_in(sorted(full), db_type="text"))
                if full
                else slots
            ),
            now=now,
            enqueue=enqueue,
            size=size,
            full=full,
        )
        result += batch
        limit -= claimed
        if claimed < size:
            break
    return result


def scheduled_runs_start_batch(
    *,
    slots: QuerySet[ScheduledRun],
    now: datetime,
    enqueue: bool = True,
    size: int = 500,
    full: set[str] | None = None,
) -> tuple[DispatchResult, int]:
    """Claim up to ``size`` due queued slots and start them together; (result, claimed).

    One transaction: the slots are locked (skipping those another dispatcher holds) and
    still QUEUED, their runs are admitted and written by ``pipeline_runs_start_batch``,
    and the slots are marked in bulk: a slot starts once. Tenants found at their
    concurrent limit are added to ``full``. If the batch fails unexpectedly it is rolled
    back and its slots are started one by one, so one bad slot holds up no other.
    """

    full = full if full is not None else set()
    result = DispatchResult()
    claimed: list[tuple] = []
    try:
        with transaction.atomic():
            claimed = list(
                slots.filter(state=SlotState.QUEUED, next_attempt_at__lte=now)
                .select_for_update(skip_locked=True, of=("self",))
                .order_by("-priority", "slot_at", "pk")
                .values_list(*_CLAIM_FIELDS)[:size]
            )
            if not claimed:
                return result, 0
            outcomes = pipeline_runs_start_batch(
                requests=[_run_request(*slot) for slot in claimed], now=now, enqueue=enqueue
            )
            updated_at = timezone.now()
            changes: dict[int, tuple] = {}
            for slot, outcome in zip(claimed, outcomes, strict=True):
                slot_id, tenant_id = slot[0], slot[1]
                if isinstance(outcome, uuid.UUID):
                    changes[slot_id] = (SlotState.STARTED, "", outcome, updated_at)
                    result.started += 1
                elif isinstance(outcome, QuotaExceeded) and outcome.window == "concurrent":
                    changes[slot_id] = (SlotState.QUEUED, outcome.message, None, updated_at)
                    full.add(tenant_id)
                    result.queued += 1
                elif isinstance(outcome, (RunRefused, PipelineConfigError)):
                    # Tenant not runnable, a daily or monthly limit, parameters or config no
                    # longer valid: retrying won't help.
                    changes[slot_id] = (SlotState.SKIPPED, str(outcome), None, updated_at)
                    result.skipped += 1
            rows_update(
                ScheduledRun,
                key="id",
                fields=["state", "reason", "run", "updated_at"],
                rows=changes,
            )
    except Exception:
        logger.exception("starting a batch of %d slots failed; starting them one by one", size)
        result = DispatchResult()
        for slot_id, tenant_id, *_ in claimed:
            state = scheduled_run_start(slot_id=slot_id, now=now, enqueue=enqueue)
            if state == SlotState.STARTED:
                result.started += 1
            elif state == SlotState.QUEUED:
                result.queued += 1
                full.add(tenant_id)
            elif state == SlotState.SKIPPED:
                result.skipped += 1
    return result, len(claimed)


class SlotsExisted(Exception):
    """Some new slots were there already (a backfill made them): start them as queued ones."""


def scheduled_runs_start_new(
    *, slots: list[tuple], schedules: Mapping[int, tuple], now: datetime, enqueue: bool = True
) -> DispatchResult:
    """Start slots that do not exist yet, writing each slot once, in its final state
    (PostgreSQL).

    ``slots`` are new slots (schedule, tenant, slot time, priority) and ``schedules`` maps
    their schedule to (provider, domain, pipeline, parameters, timezone). Their runs are
    admitted and written by ``pipeline_runs_start_batch`` (highest priority, then oldest
    first), and the slots are inserted STARTED with their run, or SKIPPED or QUEUED with
    the reason, in one COPY. Call inside a transaction; if a slot was there already it
    raises SlotsExisted, and the caller rolls back and queues them instead.
    """
    slots = sorted(slots, key=lambda slot: (-slot[3], slot[2], slot[0]))
    requests = []
    # Slots of one schedule group on one local day share one parameters object.
    parameters_for: dict[tuple, dict] = {}
    for schedule_id, tenant_id, slot_at, _ in slots:
        provider, domain, pipeline, parameters, tz = schedules[schedule_id]
        key = (id(parameters), tz, slot_at)
        parameters_at = parameters_for.get(key)
        if parameters_at is None:
            parameters_at = parameters_for[key] = slot_parameters(
                parameters, slot_date=slot_at.astimezone(_zone(tz)).date()
            )
        requests.append(
            RunRequest(
                tenant_id=tenant_id,
                provider=provider,
                domain=domain,
                pipeline=pipeline,
                parameters=parameters_at,
                user_id=SCHEDULER_USER_ID,
                trigger=PipelineRun.Trigger.SCHEDULED,
            )
        )
    outcomes = pipeline_runs_start_batch(requests=requests, now=now, enqueue=enqueue)
    result = DispatchResult()
    rows = []
    for (schedule_id, tenant_id, slot_at, priority), outcome in zip(slots, outcomes, strict=True):
        state, reason, run = _slot_outcome(outcome, result)
        rows.append((schedule_id, tenant_id, slot_at, priority, state, reason, run, slot_at))
    try:
        rows_copy(ScheduledRun, fields=_NEW_SLOT_FIELDS, rows=rows)
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
        if constraint == "scheduled_run_unique_slot":
            raise SlotsExisted from exc
        raise
    return result


_NEW_SLOT_FIELDS = (
    "schedule_id",
    "tenant_id",
    "slot_at",
    "priority",
    "state",
    "reason",
    "run_id",
    "next_attempt_at",
)


def _slot_outcome(outcome, result: DispatchResult) -> tuple[str, str, uuid.UUID | None]:
    """A started run's id, or why not, as the slot's (state, reason, run); counted."""

    if isinstance(outcome, uuid.UUID):
        result.started += 1
        return SlotState.STARTED, "", outcome
    if isinstance(outcome, QuotaExceeded) and outcome.window == "concurrent":
        result.queued += 1
        return SlotState.QUEUED, outcome.message, None
    if isinstance(outcome, (RunRefused, PipelineConfigError)):
        # Tenant not runnable, a daily or monthly limit, parameters or config no longer
        # valid: retrying won't help.
        result.skipped += 1
        return SlotState.SKIPPED, str(outcome), None
    raise TypeError(f"unexpected outcome {outcome!r}")


_CLAIM_FIELDS = (
    "pk",
    "tenant_id",
    "slot_at",
    "attempt",
    "kind",
    "schedule__provider",
    "schedule__domain",
    "schedule__pipeline",
    "schedule__parameters",
    "schedule__timezone",
)


def _run_request(
    slot_id, tenant_id, slot_at, attempt, kind, provider, domain, pipeline, parameters, tz
) -> RunRequest:
    slot_date = slot_at.astimezone(_zone(tz)).date()
    if attempt > 1:
        trigger = PipelineRun.Trigger.RETRY
    elif kind == ScheduledRun.Kind.BACKFILL:
        trigger = PipelineRun.Trigger.BACKFILL
    else:
        trigger = PipelineRun.Trigger.SCHEDULED
    return RunRequest(
        tenant_id=tenant_id,
        provider=provider,
        domain=domain,
        pipeline=pipeline,
        parameters=slot_parameters(parameters, slot_date=slot_date),
        user_id=SCHEDULER_USER_ID,
        trigger=trigger,
        attempt=attempt,
    )


@functools.lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def scheduled_runs_process_queue(
    *, now: datetime | None = None, enqueue: bool = True, limit: int = 10_000
) -> DispatchResult:
    """Settle finished runs (scheduling retries), then start every queued slot that can start."""
    now = now or timezone.now()
    result = scheduled_runs_sync(now=now)
    result += scheduled_runs_start(
        slots=ScheduledRun.objects.all(), now=now, enqueue=enqueue, limit=limit
    )
    return result


def scheduled_runs_sync(*, now: datetime | None = None, limit: int = 5000) -> DispatchResult:
    """Carry each finished run's outcome to its slot; a failed one is retried with backoff."""
    now = now or timezone.now()
    result = DispatchResult()
    started = (
        ScheduledRun.objects.filter(state=SlotState.STARTED)
        .filter(run__status__in=FINAL_STATUSES)
        .select_related("run", "schedule")[:limit]
    )
    for slot in started:
        run = slot.run
        changes: dict = {"updated_at": now}
        if run.status == RunStatus.COMPLETED:
            changes.update(state=SlotState.COMPLETED, reason="")
        elif run.status == RunStatus.CANCELLED:
            changes.update(state=SlotState.CANCELLED, reason=run.error_message[:2000])
        elif slot.attempt <= slot.schedule.max_retries:
            delay = retry_delay(
                base_seconds=slot.schedule.retry_backoff_seconds, retry=slot.attempt
            )
            changes.update(
                state=SlotState.QUEUED,
                attempt=slot.attempt + 1,
                next_attempt_at=(run.ended_at or now) + delay,
                run=None,
                previous_run_ids=[*slot.previous_run_ids, str(run.pk)],
                reason=f"Attempt {slot.attempt} failed: {run.error_message}"[:2000],
            )
        else:
            changes.update(
                state=SlotState.FAILED,
                reason=f"Failed after {slot.attempt} attempts: {run.error_message}"[:2000],
            )
        # Conditional on the slot still pointing at this run: a concurrent sync does nothing.
        if ScheduledRun.objects.filter(pk=slot.pk, state=SlotState.STARTED, run=run).update(
            **changes
        ):
            if changes["state"] == SlotState.QUEUED:
                result.retried += 1
            else:
                result.finished += 1
    ScheduledRun.objects.filter(state=SlotState.STARTED, run__isnull=True).update(
        state=SlotState.CANCELLED, reason="Its run was deleted.", updated_at=now
    )
    return result
