"""Reads of the pipelines app."""

from datetime import datetime

from django.db.models import QuerySet
from django.http import Http404

from pipelines.models import PipelineRun, StepRun
from tenants.authentication import KeyPrincipal
from tenants.permissions import is_staff


def runs_active_count(*, tenant_id: str) -> int:
    """Runs holding one of the tenant's concurrency slots."""
    return PipelineRun.objects.filter(tenant_id=tenant_id, holds_slot=True).count()


def run_get_for_user(*, user, run_id) -> PipelineRun:
    """The run if this user may see it; 404 for another tenant's run."""
    runs = PipelineRun.objects.prefetch_related("steps")
    if isinstance(user, KeyPrincipal) and user.tenant_id is not None:
        runs = runs.filter(tenant_id=user.tenant_id)
    elif not is_staff(user):
        raise Http404("No such run.")
    run = runs.filter(pk=run_id).first()
    if run is None:
        raise Http404("No such run.")
    return run


# The columns the run API shows; read as values, so a page of runs builds no model instances.
RUN_COLUMNS = (
    "id",
    "tenant_id",
    "pipeline_id",
    "provider",
    "domain",
    "pipeline",
    "status",
    "trigger",
    "parameters",
    "user_id",
    "cancel_requested",
    "created_at",
    "started_at",
    "ended_at",
    "rows_processed",
    "bytes_processed",
    "error_message",
)
STEP_COLUMNS = (
    "index",
    "step_id",
    "ps_type",
    "status",
    "started_at",
    "ended_at",
    "rows_processed",
    "bytes_processed",
    "error_message",
    "details",
)


def run_values_get_for_user(*, user, run_id) -> dict:
    """The run (``RUN_COLUMNS``) with its steps (``STEP_COLUMNS``, in order) if this user may
    see it; 404 for another tenant's run. Two queries."""
    runs = PipelineRun.objects.all()
    if isinstance(user, KeyPrincipal) and user.tenant_id is not None:
        runs = runs.filter(tenant_id=user.tenant_id)
    elif not is_staff(user):
        raise Http404("No such run.")
    run = runs.filter(pk=run_id).values(*RUN_COLUMNS).first()
    if run is None:
        raise Http404("No such run.")
    run["steps"] = list(
        StepRun.objects.filter(run_id=run["id"]).order_by("index").values(*STEP_COLUMNS)
    )
    return run


def runs_list(
    *,
    tenant_id: str,
    status: str | None = None,
    trigger: str | None = None,
    provider: str | None = None,
    pipeline: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[PipelineRun]:
    runs = PipelineRun.objects.filter(tenant_id=tenant_id).order_by("-created_at")
    filters = {
        "status": status,
        "trigger": trigger,
        "provider": provider,
        "pipeline": pipeline,
        "created_at__gte": created_after,
        "created_at__lt": created_before,
    }
    return runs.filter(**{k: v for k, v in filters.items() if v is not None})


def tenants_with_recent_anomalies(*, since: datetime, limit: int) -> list[str]:
    """Tenants whose anomaly step found anomalies in a run ended since ``since``, most recent
    first (read from the steps' recorded details; no warehouse query)."""
    from pipelines.models import StepRun, StepStatus

    latest: list[str] = []
    steps = (
        StepRun.objects.filter(
            ps_type="focus.anomalies",
            status=StepStatus.COMPLETED,
            ended_at__gte=since,
            details__anomalies_in_window__gt=0,
        )
        .order_by("-ended_at")
        .values_list("run__tenant_id", flat=True)
    )
    for tenant_id in steps.iterator():
        if tenant_id not in latest:
            latest.append(tenant_id)
            if len(latest) == limit:
                break
    return latest
