"""Reads of the pipelines app."""

from datetime import datetime

from django.db.models import QuerySet
from django.http import Http404

from pipelines.configs import (
    MAPPED_PROVIDER,
    SYSTEM_PROVIDER,
    PipelineConfigError,
    config_source_configs,
    pipeline_config_resolve,
    pipeline_configs_all,
)
from pipelines.errors import InvalidRunParameters
from pipelines.models import PipelineRun, StepRun, StepStatus
from tenants.selectors import tenant_scope_for_user


def focus_tables_for_tenant(*, tenant_id: str) -> dict[str, str]:
    """Provider -> the FOCUS table its runs write in the tenant's dataset: every shipped
    FOCUS pipeline's (the built-in providers and native FOCUS files) and one per FOCUS mapping
    the tenant can run. The one answer to "which tables hold this tenant's FOCUS costs", asked
    by the cost pages, budgets and the end of a run."""
    tables: dict[str, str] = {}
    for config in pipeline_configs_all():
        if config.provider not in (SYSTEM_PROVIDER, MAPPED_PROVIDER) and config.focus_table:
            tables.setdefault(config.provider, config.focus_table)
    # A mapping that no longer validates writes nothing new.
    for name, config in config_source_configs(tenant_id=tenant_id).items():
        if config.focus_table:
            tables.setdefault(name, config.focus_table)
    return tables


def run_writes_focus(run: PipelineRun) -> bool:
    """True if the run's pipeline writes a FOCUS table."""
    try:
        config = pipeline_config_resolve(
            run.provider, run.domain, run.pipeline, tenant_id=run.tenant_id
        )
    except (PipelineConfigError, InvalidRunParameters):
        return False
    return config.focus_table is not None


def runs_active_count(*, tenant_id: str) -> int:
    """Runs holding one of the tenant's concurrency slots."""
    return PipelineRun.objects.filter(tenant_id=tenant_id, holds_slot=True).count()


def runs_visible_to(*, user) -> QuerySet[PipelineRun]:
    """The runs this principal may see, the one rule every read of a run asks: staff all of
    them, a tenant key its tenant's, anyone else none (``tenant_scope_for_user``)."""
    return tenant_scope_for_user(user=user).filter(PipelineRun.objects.all())


def run_get_for_user(*, user, run_id) -> PipelineRun:
    """The run, with its steps, if this user may see it; 404 for another tenant's run."""
    run = runs_visible_to(user=user).prefetch_related("steps").filter(pk=run_id).first()
    if run is None:
        raise Http404("No such run.")
    return run


def runs_list(
    *,
    user,
    tenant_id: str,
    status: str | None = None,
    trigger: str | None = None,
    provider: str | None = None,
    pipeline: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[PipelineRun]:
    """The tenant's runs this user may see, newest first, filtered."""
    # The id breaks ties, so pages never repeat or skip a run.
    runs = runs_visible_to(user=user).filter(tenant_id=tenant_id).order_by("-created_at", "-id")
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
