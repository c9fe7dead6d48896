"""Schedules: create, update and delete a tenant's pipeline schedule; backfill a date range."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from pipelines.configs import (
    PipelineConfigError,
    PipelineConfigNotFound,
    pipeline_config_for_tenant,
)
from pipelines.errors import RunRefused
from scheduling.models import CatchUp, Schedule, ScheduledRun
from scheduling.services.cron import (
    InvalidCron,
    InvalidTimezone,
    cron_between,
    cron_next,
    cron_validate,
    timezone_validate,
)
from tenants.models import Tenant
from tenants.selectors import provider_buckets
from tenants.services.audit import Actor, audit_record

BACKFILL_MAX_SLOTS = 1000


class ScheduleInvalid(ValueError):
    """Bad schedule input; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ScheduleExists(ScheduleInvalid):
    pass


@dataclass(frozen=True)
class _Pipeline:
    provider: str
    domain: str
    pipeline: str


def _config_check(*, tenant_id: str, pipeline: _Pipeline, parameters: Mapping[str, Any]) -> str:
    """The config's default cron; ScheduleInvalid if the tenant could not run this pipeline."""

    path = f"{pipeline.provider}/{pipeline.domain}/{pipeline.pipeline}"
    try:
        config = pipeline_config_for_tenant(
            pipeline.provider, pipeline.domain, pipeline.pipeline, tenant_id=tenant_id
        )
    except PipelineConfigNotFound as exc:
        raise ScheduleInvalid("pipeline", f"No pipeline config {path}.") from exc
    except PipelineConfigError as exc:
        raise ScheduleInvalid("pipeline", f"Pipeline config {path} is invalid: {exc}") from exc
    except RunRefused as exc:  # a FOCUS mapping of that name that no longer validates
        raise ScheduleInvalid("pipeline", exc.message) from exc
    try:
        config.resolve_parameters(
            slot_parameters(parameters, slot_date=date.today()),
            tenant_id=tenant_id,
            buckets=provider_buckets(tenant_id=tenant_id, provider=pipeline.provider),
        )
    except PipelineConfigError as exc:
        raise ScheduleInvalid("parameters", str(exc)) from exc
    return getattr(config, "schedule", "") or ""


def slot_parameters(parameters: Mapping[str, Any], *, slot_date: date) -> dict:
    """A scheduled run's parameters: the schedule's, with ``date`` the slot's local date."""
    return {"date": slot_date.isoformat(), **parameters}


def schedule_next_run(*, schedule: Schedule, after: datetime) -> datetime:
    return cron_next(schedule.cron, schedule.timezone, after=after)


def schedule_upcoming(*, schedule: Schedule, count: int = 5, after: datetime | None = None):
    """The next ``count`` run times (UTC) after ``after`` (now by default)."""
    after = after or timezone.now()
    return cron_between(
        schedule.cron,
        schedule.timezone,
        after=after,
        until=after + timedelta(days=3660),
        limit=count,
    )


def _validated(cron: str, tz_name: str) -> tuple[str, str]:
    try:
        cron = cron_validate(cron)
    except InvalidCron as exc:
        raise ScheduleInvalid("cron", str(exc)) from exc
    try:
        timezone_validate(tz_name)
    except InvalidTimezone as exc:
        raise ScheduleInvalid("timezone", str(exc)) from exc
    return cron, tz_name


def schedule_create(
    *,
    tenant: Tenant,
    provider: str,
    domain: str,
    pipeline: str,
    cron: str = "",
    tz_name: str = "UTC",
    active: bool = True,
    parameters: Mapping[str, Any] | None = None,
    priority: int = 0,
    max_retries: int = 3,
    retry_backoff_seconds: int = 60,
    catch_up: str = CatchUp.LATEST,
    actor: Actor,
    now: datetime | None = None,
) -> Schedule:
    """Schedule a pipeline the tenant can run; the cron defaults to the config's schedule."""
    now = now or timezone.now()
    parameters = dict(parameters or {})
    default_cron = _config_check(
        tenant_id=tenant.id, pipeline=_Pipeline(provider, domain, pipeline), parameters=parameters
    )
    cron, tz_name = _validated(cron or default_cron, tz_name)
    if Schedule.objects.filter(
        tenant=tenant, provider=provider, domain=domain, pipeline=pipeline
    ).exists():
        raise ScheduleExists(
            "pipeline", f"{provider}/{domain}/{pipeline} is already scheduled for {tenant.id}."
        )
    schedule = Schedule(
        tenant=tenant,
        provider=provider,
        domain=domain,
        pipeline=pipeline,
        cron=cron,
        timezone=tz_name,
        active=active,
        parameters=parameters,
        priority=priority,
        max_retries=max_retries,
        retry_backoff_seconds=retry_backoff_seconds,
        catch_up=catch_up,
    )
    schedule.next_run_at = schedule_next_run(schedule=schedule, after=now)
    with transaction.atomic():
        schedule.save()
        audit_record(
            actor=actor,
            action="schedule.create",
            tenant_id=tenant.id,
            target=schedule.config_path,
            details={"cron": cron, "timezone": tz_name, "active": active},
        )
    return schedule


UPDATABLE = (
    "cron",
    "timezone",
    "active",
    "parameters",
    "priority",
    "max_retries",
    "retry_backoff_seconds",
    "catch_up",
)


def schedule_update(
    *, schedule: Schedule, actor: Actor, now: datetime | None = None, **changes: Any
) -> Schedule:
    """Change a schedule; a new cron, timezone or re-activation recomputes ``next_run_at``."""
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise TypeError(f"schedule_update got unknown fields {sorted(unknown)}")
    now = now or timezone.now()
    with transaction.atomic():
        schedule = Schedule.objects.select_for_update().get(pk=schedule.pk)
        was_active = schedule.active
        cron, tz_name = _validated(
            changes.get("cron", schedule.cron), changes.get("timezone", schedule.timezone)
        )
        changes.update(cron=cron, timezone=tz_name)
        if "parameters" in changes:
            _config_check(
                tenant_id=schedule.tenant_id,
                pipeline=_Pipeline(schedule.provider, schedule.domain, schedule.pipeline),
                parameters=changes["parameters"],
            )
        timing_changed = (cron, tz_name) != (schedule.cron, schedule.timezone)
        for field, value in changes.items():
            setattr(schedule, field, value)
        if timing_changed or (schedule.active and not was_active):
            # Re-timed or re-enabled: the next run is the next future slot, no catch-up.
            schedule.next_run_at = schedule_next_run(schedule=schedule, after=now)
        schedule.save()
        audit_record(
            actor=actor,
            action="schedule.update",
            tenant_id=schedule.tenant_id,
            target=schedule.config_path,
            details={k: v for k, v in changes.items() if k != "parameters"},
        )
    return schedule


def schedule_delete(*, schedule: Schedule, actor: Actor) -> None:
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="schedule.delete",
            tenant_id=schedule.tenant_id,
            target=schedule.config_path,
            details={"cron": schedule.cron, "timezone": schedule.timezone},
        )
        schedule.delete()


def schedule_backfill(
    *,
    schedule: Schedule,
    start: date,
    end: date,
    actor: Actor,
    now: datetime | None = None,
) -> list[ScheduledRun]:
    """Queue one backfill slot per cron time in the local days ``start``..``end`` (inclusive).

    Slots that already exist (run by the schedule or an earlier backfill) are left alone.
    """
    now = now or timezone.now()
    if end < start:
        raise ScheduleInvalid("end_date", "end_date is before start_date.")
    tz = ZoneInfo(schedule.timezone)
    after = datetime.combine(start, time.min, tz).astimezone(UTC) - timedelta(microseconds=1)
    until = min(
        datetime.combine(end + timedelta(days=1), time.min, tz).astimezone(UTC)
        - timedelta(microseconds=1),
        now,
    )
    times = cron_between(
        schedule.cron, schedule.timezone, after=after, until=until, limit=BACKFILL_MAX_SLOTS + 1
    )
    if len(times) > BACKFILL_MAX_SLOTS:
        raise ScheduleInvalid(
            "end_date", f"The range holds more than {BACKFILL_MAX_SLOTS} slots; split it."
        )
    with transaction.atomic():
        existing = set(
            ScheduledRun.objects.filter(schedule=schedule, slot_at__in=times).values_list(
                "slot_at", flat=True
            )
        )
        slots = ScheduledRun.objects.bulk_create(
            [
                ScheduledRun(
                    schedule=schedule,
                    tenant_id=schedule.tenant_id,
                    slot_at=at,
                    kind=ScheduledRun.Kind.BACKFILL,
                    priority=schedule.priority,
                    next_attempt_at=now,
                )
                for at in times
                if at not in existing
            ],
            ignore_conflicts=True,
        )
        audit_record(
            actor=actor,
            action="schedule.backfill",
            tenant_id=schedule.tenant_id,
            target=schedule.config_path,
            details={"start": start.isoformat(), "end": end.isoformat(), "slots": len(slots)},
        )
    return slots
