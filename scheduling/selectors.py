"""Reads of the scheduling app."""

from datetime import datetime

from django.db.models import Min, QuerySet
from django.http import Http404
from django.utils import timezone

from pipelines.models import PipelineRun, RunStatus
from scheduling.models import Schedule, ScheduledRun, SlotState
from tenants.models import Tenant


def schedules_list(*, tenant: Tenant) -> QuerySet[Schedule]:
    return Schedule.objects.filter(tenant=tenant).order_by("provider", "domain", "pipeline")


def schedule_get(*, tenant: Tenant, config_id: int) -> Schedule:
    """The tenant's schedule; 404 for another tenant's (the caller already checked the tenant)."""
    schedule = Schedule.objects.filter(tenant=tenant, pk=config_id).first()
    if schedule is None:
        raise Http404("No such schedule.")
    return schedule


def scheduler_status(*, now: datetime | None = None) -> dict:
    """Due schedules, queued slots, pending and running runs, and how late the oldest is."""
    now = now or timezone.now()
    due = Schedule.objects.filter(active=True, next_run_at__lte=now)
    queued = ScheduledRun.objects.filter(state=SlotState.QUEUED)
    oldest_due = due.aggregate(at=Min("next_run_at"))["at"]
    oldest_queued = queued.filter(next_attempt_at__lte=now).aggregate(at=Min("slot_at"))["at"]
    oldest = min((at for at in (oldest_due, oldest_queued) if at is not None), default=None)
    return {
        "now": now,
        "schedules_active": Schedule.objects.filter(active=True).count(),
        "due": due.count(),
        "queued": queued.count(),
        "queued_waiting_retry": queued.filter(next_attempt_at__gt=now).count(),
        "pending": PipelineRun.objects.filter(status=RunStatus.PENDING).count(),
        "running": PipelineRun.objects.filter(status=RunStatus.RUNNING).count(),
        "oldest_lag_seconds": (now - oldest).total_seconds() if oldest else 0.0,
    }
