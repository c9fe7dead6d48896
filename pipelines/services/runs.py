"""Pipeline runs: start (admitted against quotas), execute step by step, cancel, finish once."""

import logging
import socket
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from pipelines.errors import InvalidRunParameters, RunStateConflict
from pipelines.models import ACTIVE_STATUSES, FINAL_STATUSES, PipelineRun, RunStatus, StepRun
from pipelines.services.quotas import run_admit, run_slot_release
from tenants.services.audit import Actor, audit_record

logger = logging.getLogger(__name__)


def pipeline_run_start(
    *,
    tenant_id: str,
    provider: str,
    domain: str,
    pipeline: str,
    parameters: Mapping[str, Any],
    user_id: str = "",
    trigger: str = PipelineRun.Trigger.MANUAL,
    attempt: int = 1,
    actor: Actor | None = None,
    retry_of: PipelineRun | None = None,
    now: datetime | None = None,
    enqueue: bool = True,
) -> PipelineRun:
    """Admit a run against the tenant's status and quotas, record it, and queue it on commit.

    Raises PipelineConfigNotFound, InvalidRunParameters, TenantCannotRun or QuotaExceeded;
    a refused run leaves no row and uses no quota.
    """
    from pipelines.configs import PipelineConfigError, pipeline_config_for_tenant
    from tenants.selectors import provider_buckets

    config = pipeline_config_for_tenant(provider, domain, pipeline)
    buckets = provider_buckets(tenant_id=tenant_id, provider=provider)
    try:
        values = config.resolve_parameters(dict(parameters), tenant_id=tenant_id, buckets=buckets)
    except PipelineConfigError as exc:
        raise InvalidRunParameters(str(exc)) from exc
    now = now or timezone.now()
    with transaction.atomic():
        run_admit(tenant_id=tenant_id, now=now)
        run = PipelineRun.objects.create(
            tenant_id=tenant_id,
            provider=provider,
            domain=domain,
            pipeline=pipeline,
            pipeline_id=config.pipeline_id_for(tenant_id),
            parameters=values,
            user_id=user_id,
            trigger=trigger,
            attempt=attempt,
        )
        StepRun.objects.bulk_create(
            StepRun(run=run, index=i, step_id=step.step_id, ps_type=step.ps_type)
            for i, step in enumerate(config.steps)
        )
        if actor is not None:
            audit_record(
                actor=actor,
                action="run.retry" if trigger == PipelineRun.Trigger.RETRY else "run.start",
                tenant_id=tenant_id,
                target=str(run.pk),
                details={
                    "config_path": run.config_path,
                    "trigger": trigger,
                    **({"retry_of": str(retry_of.pk)} if retry_of is not None else {}),
                },
            )
        if enqueue:
            transaction.on_commit(lambda: run_enqueue(run_id=run.pk))
    logger.info("run %s admitted: %s for %s", run.pk, run.config_path, tenant_id)
    return run


def pipeline_run_retry(*, run: PipelineRun, actor: Actor) -> PipelineRun:
    """A new run like ``run`` (which must have finished): same tenant, pipeline, parameters."""
    if run.status in ACTIVE_STATUSES:
        raise RunStateConflict(f"Run {run.pk} is still {run.status}; cancel it or wait.")
    return pipeline_run_start(
        tenant_id=run.tenant_id,
        provider=run.provider,
        domain=run.domain,
        pipeline=run.pipeline,
        parameters=run.parameters,
        user_id=actor.user_id or actor.label,
        trigger=PipelineRun.Trigger.RETRY,
        attempt=run.attempt + 1,
        actor=actor,
        retry_of=run,
    )


def run_enqueue(*, run_id) -> None:
    from pipelines.tasks import pipeline_run_task

    pipeline_run_task.delay(str(run_id))


def pipeline_run_cancel(*, run: PipelineRun, actor: Actor) -> PipelineRun:
    """Cancel a pending run at once; ask a running one to stop before its next step."""
    with transaction.atomic():
        run = PipelineRun.objects.select_for_update().get(pk=run.pk)
        if run.status in FINAL_STATUSES:
            raise RunStateConflict(f"Run {run.pk} is already {run.status}.")
        if run.status == RunStatus.PENDING:
            run_finish(run=run, status=RunStatus.CANCELLED, error="Cancelled before it started.")
        else:
            run.cancel_requested = True
            run.save(update_fields=["cancel_requested"])
        audit_record(actor=actor, action="run.cancel", tenant_id=run.tenant_id, target=str(run.pk))
    return run


def run_finish(*, run: PipelineRun, status: str, error: str = "") -> bool:
    """Move a run to a final state exactly once, give its slot back, and log it.

    Returns False when another process had already finished it.
    """
    now = timezone.now()
    totals = StepRun.objects.filter(run=run).aggregate(
        rows=Coalesce(Sum("rows_processed"), 0), bytes=Coalesce(Sum("bytes_processed"), 0)
    )
    updated = PipelineRun.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES).update(
        status=status,
        ended_at=now,
        error_message=error[:5000],
        rows_processed=totals["rows"],
        bytes_processed=totals["bytes"],
    )
    if not updated:
        return False
    # Steps this run never reached are cancelled; one caught mid-way shares the run's fate.
    StepRun.objects.filter(run=run, status=RunStatus.RUNNING).update(status=status, ended_at=now)
    StepRun.objects.filter(run=run, status=RunStatus.PENDING).update(status=RunStatus.CANCELLED)
    run_slot_release(run_id=run.pk)
    transaction.on_commit(lambda: run_log_to_warehouse(run_id=run.pk))
    if status == RunStatus.COMPLETED and (run.domain, run.pipeline) == ("cost", "focus"):
        from budgets.services.budgets import budgets_evaluate_enqueue

        transaction.on_commit(lambda: budgets_evaluate_enqueue(tenant_id=run.tenant_id))
    return True


def pipeline_run_execute(*, run_id, worker: str = "") -> PipelineRun | None:
    """Execute a pending run in this process. Returns None if it was not ours to run."""
    from pipelines.engine import run_steps

    now = timezone.now()
    claimed = PipelineRun.objects.filter(pk=run_id, status=RunStatus.PENDING).update(
        status=RunStatus.RUNNING,
        started_at=now,
        heartbeat_at=now,
        worker=worker or socket.gethostname(),
    )
    if not claimed:
        return None
    run = PipelineRun.objects.select_related("tenant").get(pk=run_id)
    status, error = run_steps(run)
    with transaction.atomic():
        run_finish(run=run, status=status, error=error)
    run.refresh_from_db()
    return run


def run_log_to_warehouse(*, run_id) -> bool:
    """Mirror a finished run and its steps into the tenant's dataset, once.

    The flag is claimed first, so two callers never both write; a failed write gives the
    flag back so a later call (orphan cleanup) can try again.
    """
    from pipelines.tables import PIPELINE_RUNS, STEP_LOGS
    from pipelines.warehouse import WarehouseError, get_warehouse

    if not PipelineRun.objects.filter(pk=run_id, logged_to_warehouse=False).update(
        logged_to_warehouse=True
    ):
        return False
    run = PipelineRun.objects.select_related("tenant").get(pk=run_id)
    steps = list(run.steps.all())
    logged_at = timezone.now()
    warehouse = get_warehouse()
    try:
        warehouse.insert_rows(run.tenant.dataset_id, PIPELINE_RUNS, [_run_row(run, logged_at)])
        if steps:
            warehouse.insert_rows(
                run.tenant.dataset_id, STEP_LOGS, [_step_row(run, s, logged_at) for s in steps]
            )
    except WarehouseError:
        logger.exception("could not log run %s to the warehouse; will retry", run_id)
        PipelineRun.objects.filter(pk=run_id).update(logged_to_warehouse=False)
        return False
    return True


def _run_row(run: PipelineRun, logged_at: datetime) -> dict:
    return {
        "pipeline_logging_id": str(run.pk),
        "tenant_id": run.tenant_id,
        "pipeline_id": run.pipeline_id,
        "config_path": run.config_path,
        "status": run.status,
        "trigger": run.trigger,
        "user_id": run.user_id or None,
        "parameters": run.parameters,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "duration_ms": run.duration_ms,
        "rows_processed": run.rows_processed,
        "bytes_processed": run.bytes_processed,
        "error_message": run.error_message or None,
        "logged_at": logged_at,
    }


def _step_row(run: PipelineRun, step: StepRun, logged_at: datetime) -> dict:
    return {
        "step_logging_id": f"{run.pk}:{step.index}",
        "pipeline_logging_id": str(run.pk),
        "tenant_id": run.tenant_id,
        "step_id": step.step_id,
        "ps_type": step.ps_type,
        "step_index": step.index,
        "status": step.status,
        "started_at": step.started_at,
        "ended_at": step.ended_at,
        "duration_ms": step.duration_ms,
        "rows_processed": step.rows_processed,
        "bytes_processed": step.bytes_processed,
        "error_message": step.error_message or None,
        "logged_at": logged_at,
    }


def runs_purge(*, ended_before: datetime) -> int:
    """Delete finished, already-logged runs (with their steps) that ended before a time.

    The control plane's copy only; the tenant dataset keeps its own log tables.
    """
    _, deleted = PipelineRun.objects.filter(
        status__in=FINAL_STATUSES, ended_at__lt=ended_before, logged_to_warehouse=True
    ).delete()
    return deleted.get("pipelines.PipelineRun", 0)
