"""System jobs: recover orphaned runs, purge old run logs, roll the quota windows."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from pipelines.models import FINAL_STATUSES, PipelineRun, RunStatus
from pipelines.services.runs import run_enqueue, run_finish, run_log_to_warehouse, runs_purge
from scheduling.models import SLOT_FINAL_STATES, ScheduledRun
from tenants.models import Tenant, UsageWindow
from tenants.services.usage import usage_windows_ensure

logger = logging.getLogger(__name__)

DEFAULT_STALE_AFTER = timedelta(minutes=10)
DEFAULT_RETENTION_DAYS = 90


def runs_orphaned_recover(
    *, now: datetime | None = None, stale_after: timedelta = DEFAULT_STALE_AFTER
) -> list[str]:
    """Fail each RUNNING run whose worker stopped heart-beating, giving its slot back.

    ``run_finish`` moves a run to its final state only once, so a worker that comes back
    and finishes the run itself, or a second cleanup, changes nothing. A failed scheduled
    run is then retried by the queue like any other failure.
    """

    now = now or timezone.now()
    cutoff = now - stale_after
    stale = PipelineRun.objects.filter(status=RunStatus.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )
    recovered = []
    for run in stale.only("pk", "worker", "heartbeat_at"):
        minutes = int(stale_after.total_seconds() // 60)
        error = (
            f"Worker {run.worker or 'unknown'} stopped heart-beating "
            f"(no heartbeat for over {minutes} min since {run.heartbeat_at or 'start'})."
        )
        with transaction.atomic():
            if run_finish(run=run, status=RunStatus.FAILED, error=error):
                recovered.append(str(run.pk))
    if recovered:
        logger.warning("recovered %d orphaned runs: %s", len(recovered), recovered)
    return recovered


def runs_pending_requeue(
    *, now: datetime | None = None, stale_after: timedelta = DEFAULT_STALE_AFTER
) -> list[str]:
    """Send again each run still PENDING long after it was admitted (its message was lost).

    A duplicate message is harmless: a worker claims a run only while it is PENDING.
    """

    now = now or timezone.now()
    ids = list(
        PipelineRun.objects.filter(
            status=RunStatus.PENDING, created_at__lt=now - stale_after
        ).values_list("pk", flat=True)[:1000]
    )
    for run_id in ids:
        run_enqueue(run_id=run_id)
    return [str(run_id) for run_id in ids]


def runs_unlogged_retry(*, now: datetime | None = None, limit: int = 500) -> int:
    """Log to the warehouse the finished runs whose logging failed earlier."""

    now = now or timezone.now()
    ids = PipelineRun.objects.filter(
        status__in=FINAL_STATUSES,
        logged_to_warehouse=False,
        ended_at__lt=now - timedelta(minutes=1),
    ).values_list("pk", flat=True)[:limit]
    return sum(bool(run_log_to_warehouse(run_id=run_id)) for run_id in list(ids))


def run_logs_purge(*, now: datetime | None = None, days: int | None = None) -> dict[str, int]:
    """Delete finished runs (with their steps) and settled slots older than the retention.

    This is the control plane's copy; the tenant dataset keeps its own log tables.
    """
    now = now or timezone.now()
    days = days if days is not None else getattr(settings, "RUN_LOG_RETENTION_DAYS", None)
    cutoff = now - timedelta(days=days or DEFAULT_RETENTION_DAYS)
    _, slots = ScheduledRun.objects.filter(
        state__in=SLOT_FINAL_STATES, slot_at__lt=cutoff, updated_at__lt=cutoff
    ).delete()
    runs = runs_purge(ended_before=cutoff)
    return {
        "runs": runs,
        "slots": slots.get("scheduling.ScheduledRun", 0),
    }


def usage_windows_roll(*, now: datetime | None = None, keep_days: int = 400) -> dict[str, int]:
    """Open the current day and month quota windows of every runnable tenant; drop old ones.

    Windows are keyed by their start, so a new day's quota is fresh whether or not this runs;
    running it makes the new windows visible (usage, admin) before a tenant's first run.
    """
    now = now or timezone.now()
    opened = 0
    tenants = Tenant.objects.filter(status__in=Tenant.RUNNABLE_STATUSES).select_related(
        "subscription"
    )
    for tenant in tenants.iterator(chunk_size=500):
        if not hasattr(tenant, "subscription"):
            continue
        with transaction.atomic():
            usage_windows_ensure(tenant=tenant, now=now)
        opened += 1
    dropped, _ = UsageWindow.objects.filter(ends_at__lt=now - timedelta(days=keep_days)).delete()
    return {"tenants": opened, "dropped": dropped}
