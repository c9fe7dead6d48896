"""Pipeline runs: start (admitted against quotas), execute step by step, cancel, finish once."""

import json
import logging
import socket
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerOperationalError

from core.bulk import rows_copy
from pipelines.configs import (
    PipelineConfigError,
    pipeline_config_for_tenant,
    pipeline_config_is_mapped,
)
from pipelines.engine import run_steps
from pipelines.errors import InvalidRunParameters, RunRefused, RunStateConflict, TenantCannotRun
from pipelines.models import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    ROWS_WRITTEN,
    PipelineRun,
    RunStatus,
    StepRun,
)
from pipelines.selectors import run_writes_focus
from pipelines.services.inputs import pipeline_settings_check
from pipelines.services.quotas import run_slot_release, runs_admit_batch
from pipelines.signals import run_finished
from tenants.models import Tenant
from tenants.selectors import provider_buckets
from tenants.services.audit import Actor, audit_record
from warehouse.bigquery import WarehouseError, get_warehouse
from warehouse.tables import PIPELINE_RUNS, STEP_LOGS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunRequest:
    """One run to start: which tenant, which pipeline, with what."""

    tenant_id: str
    provider: str
    domain: str
    pipeline: str
    parameters: Mapping[str, Any]
    user_id: str = ""
    trigger: str = PipelineRun.Trigger.MANUAL
    attempt: int = 1


# The pipelines that write a FOCUS table (and detect anomalies): budgets are evaluated after
# each of their completed runs.


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

    Raises PipelineConfigNotFound, InvalidRunParameters (also for missing provider settings),
    TenantCannotRun or QuotaExceeded;
    a refused run leaves no row and uses no quota.

    Admission is ``runs_admit_batch`` with a batch of one; the run, its steps and its audit
    event are written after it in the same transaction, so a refusal writes nothing.
    """
    request = RunRequest(
        tenant_id=tenant_id,
        provider=provider,
        domain=domain,
        pipeline=pipeline,
        parameters=parameters,
        user_id=user_id,
        trigger=trigger,
        attempt=attempt,
    )

    config = pipeline_config_for_tenant(provider, domain, pipeline, tenant_id=tenant_id)
    values = _config_resolve(request, config=config)
    now = now or timezone.now()

    with transaction.atomic():
        # Admitted first: a missing slot counter is made from the runs holding a slot, and
        # this run must not count itself.
        admission = runs_admit_batch(wanted={tenant_id: 1}, now=now).get(tenant_id)
        if admission is None:
            raise Tenant.DoesNotExist(f"No tenant {tenant_id}.")
        if admission.refusal is not None:
            raise admission.refusal
        run_row, step_rows = _run_rows(request, config=config, values=values)
        run = PipelineRun(**run_row)
        run.save(force_insert=True)
        StepRun.objects.bulk_create([StepRun(**row) for row in step_rows])
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
            transaction.on_commit(lambda: runs_enqueue_admitted(run_ids=[run.pk]))
    logger.info("run %s admitted: %s for %s", run.pk, run.config_path, tenant_id)
    return run


def pipeline_runs_start_batch(
    *, requests: list[RunRequest], now: datetime, enqueue: bool = True
) -> list[uuid.UUID | Exception]:
    """Admit and record many runs at once; call inside a transaction.

    For each request, in order: its run's id, or why it was refused (a RunRefused, or the
    PipelineConfigError of a config gone missing or invalid). Admission is
    ``runs_admit_batch``: each tenant's requests are admitted in the order given, as one
    ``pipeline_run_start`` after another would. A few statements for the whole batch,
    and no model instances; the runs are queued in one broker round trip after commit.
    Configs and parameters are resolved once per distinct (pipeline, parameters), and
    once per tenant only where the result depends on the tenant.
    """

    outcomes: list[uuid.UUID | Exception | None] = [None] * len(requests)
    accepted: list[tuple[int, RunRequest, Any, dict]] = []
    wanted: Counter[str] = Counter()
    # Slots share configs, and parameters often (all but the date, and that per day).
    configs: dict[tuple, Any] = {}
    scoped: dict[tuple, bool] = {}
    resolved: dict[tuple, Any] = {}
    by_object: dict[tuple, Any] = {}  # the same, by parameters object (requests share them)
    mapped: dict[str, bool] = {}
    for i, request in enumerate(requests):
        path = (request.provider, request.domain, request.pipeline)
        # A mapping's pipeline depends on the tenant (its own mapping of that name wins).
        is_mapped = mapped.get(request.provider)
        if is_mapped is None:
            is_mapped = mapped[request.provider] = pipeline_config_is_mapped(request.provider)
        if is_mapped:
            path = (*path, request.tenant_id)
        config = configs.get(path)
        if config is None:
            try:
                config = pipeline_config_for_tenant(*path[:3], tenant_id=request.tenant_id)
                # File parameters resolve inside the tenant's own folder, and variables left
                # to the provider config are the tenant's; other parameters do not depend
                # on it.
                scoped[path] = any(p.type == "file" for p in config.parameters) or any(
                    value is None for value in config.variables.values()
                )
            except PipelineConfigError as exc:
                config = exc
            configs[path] = config
        if isinstance(config, Exception):
            outcomes[i] = config
            continue
        tenant = request.tenant_id if scoped[path] else None
        quick = (path, tenant, id(request.parameters))
        values = by_object.get(quick)
        if values is None:
            key = (path, tenant, _params_key(request))
            values = resolved.get(key)
            if values is None:
                try:
                    values = _config_resolve(request, config=config)
                except (RunRefused, PipelineConfigError) as exc:
                    values = exc
                resolved[key] = values
            by_object[quick] = values
        if isinstance(values, Exception):
            outcomes[i] = values
            continue
        accepted.append((i, request, config, values))
        wanted[request.tenant_id] += 1
    admissions = runs_admit_batch(wanted=wanted, now=now)
    taken: Counter[str] = Counter()
    runs, steps = [], []
    step_specs: dict[int, list[tuple[int, str, str]]] = {}
    for i, request, config, values in accepted:
        tenant_id = request.tenant_id
        admission = admissions.get(tenant_id)
        if admission is None:
            outcomes[i] = TenantCannotRun(f"Tenant {tenant_id} does not exist.")
        elif taken[tenant_id] < admission.admitted:
            taken[tenant_id] += 1
            run_id = uuid.uuid4()
            runs.append(
                (
                    run_id,
                    tenant_id,
                    request.provider,
                    request.domain,
                    request.pipeline,
                    config.pipeline_id_for(tenant_id),
                    values,
                    request.user_id,
                    request.trigger,
                    request.attempt,
                )
            )
            specs = step_specs.get(id(config))
            if specs is None:
                specs = step_specs[id(config)] = [
                    (index, step.step_id, step.ps_type) for index, step in enumerate(config.steps)
                ]
            steps.extend([(run_id, *spec) for spec in specs])
            outcomes[i] = run_id
        else:
            outcomes[i] = admission.refusal
    _runs_write(runs=runs, steps=steps)
    if enqueue and runs:
        run_ids = [run[0] for run in runs]
        transaction.on_commit(lambda: runs_enqueue_admitted(run_ids=run_ids))
    return outcomes


# The columns of the rows ``pipeline_runs_start_batch`` writes; the others take defaults.
_RUN_FIELDS = (
    "id",
    "tenant_id",
    "provider",
    "domain",
    "pipeline",
    "pipeline_id",
    "parameters",
    "user_id",
    "trigger",
    "attempt",
)
_STEP_FIELDS = ("run_id", "index", "step_id", "ps_type")


def _runs_write(*, runs: list[tuple], steps: list[tuple]) -> None:
    """Insert new runs and their steps from tuples of ``_RUN_FIELDS`` and ``_STEP_FIELDS``
    (``rows_copy``: the run ids are made here, and foreign keys are checked at commit, so the
    steps may name runs of the same batch)."""
    rows_copy(PipelineRun, fields=_RUN_FIELDS, rows=runs)
    rows_copy(StepRun, fields=_STEP_FIELDS, rows=steps)


def _params_key(request: RunRequest) -> Any:
    """A hashable stand-in for the request's parameters (a scheduled run's are flat); the
    types are part of it, since ``True == 1`` but a config may take one and not the other."""
    try:
        key = frozenset((k, type(v), v) for k, v in request.parameters.items())
        hash(key)
    except TypeError:
        return json.dumps(request.parameters, sort_keys=True, default=str)
    return key


def _config_resolve(request: RunRequest, *, config) -> dict:
    """The request's parameters resolved by its config; InvalidRunParameters if they fail,
    or if the pipeline needs provider settings the tenant has not stored.

    The tenant's registered buckets are read only when a parameter names a ``gs://`` file,
    and its provider config only when the pipeline leaves a variable to it, so a plain run
    costs no query here.
    """

    raw = dict(request.parameters)
    buckets = (
        provider_buckets(tenant_id=request.tenant_id, provider=request.provider)
        if any(isinstance(v, str) and v.startswith("gs://") for v in raw.values())
        else frozenset()
    )
    try:
        values = config.resolve_parameters(raw, tenant_id=request.tenant_id, buckets=buckets)
    except PipelineConfigError as exc:
        raise InvalidRunParameters(str(exc)) from exc
    pipeline_settings_check(config=config, tenant_id=request.tenant_id)
    return values


def _run_rows(request: RunRequest, *, config, values: dict) -> tuple[dict, list[dict]]:
    """A new run's row and its steps' rows (field name -> value)."""
    run = {
        "id": uuid.uuid4(),
        "tenant_id": request.tenant_id,
        "provider": request.provider,
        "domain": request.domain,
        "pipeline": request.pipeline,
        "pipeline_id": config.pipeline_id_for(request.tenant_id),
        "parameters": values,
        "user_id": request.user_id,
        "trigger": request.trigger,
        "attempt": request.attempt,
    }
    steps = [
        {"run_id": run["id"], "index": i, "step_id": step.step_id, "ps_type": step.ps_type}
        for i, step in enumerate(config.steps)
    ]
    return run, steps


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
    runs_enqueue(run_ids=[run_id])


def runs_enqueue(*, run_ids: list) -> None:
    """Send one Celery message per run, batched into one broker round trip where the
    transport can (kombu's ``Producer.batch``: a Redis pipeline)."""
    from pipelines.tasks import pipeline_run_task  # the tasks module imports these services

    if len(run_ids) == 1:
        pipeline_run_task.delay(str(run_ids[0]))
        return
    with pipeline_run_task.app.producer_or_acquire() as producer, producer.batch():
        for run_id in run_ids:
            pipeline_run_task.apply_async((str(run_id),), producer=producer)


def runs_enqueue_admitted(*, run_ids: list) -> None:
    """Queue runs whose admission has just committed. If the broker cannot be reached, the
    runs stay admitted and PENDING, and the maintenance task's ``runs_pending_requeue`` sends
    them again once they are stale: the caller's answer stands (the API's 202, not a 500
    that would invite a second, quota-using try)."""
    try:
        runs_enqueue(run_ids=run_ids)
    except BrokerOperationalError as exc:
        logger.error(
            "%d admitted run(s) not queued, broker unreachable (%s); the maintenance task "
            "re-sends runs left pending: %s",
            len(run_ids),
            exc,
            ", ".join(str(run_id) for run_id in run_ids[:20])
            + (f" and {len(run_ids) - 20} more" if len(run_ids) > 20 else ""),
        )


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
    totals = StepRun.objects.filter(run=run).aggregate(bytes=Coalesce(Sum("bytes_processed"), 0))
    updated = PipelineRun.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES).update(
        status=status,
        ended_at=now,
        error_message=error[:5000],
        rows_processed=run_rows_written(run_id=run.pk),
        bytes_processed=totals["bytes"],
    )
    if not updated:
        return False
    # Steps this run never reached are cancelled; one caught mid-way shares the run's fate.
    StepRun.objects.filter(run=run, status=RunStatus.RUNNING).update(status=status, ended_at=now)
    StepRun.objects.filter(run=run, status=RunStatus.PENDING).update(status=RunStatus.CANCELLED)
    run_slot_release(run_id=run.pk)
    wrote_focus = status == RunStatus.COMPLETED and run_writes_focus(run)

    def finished() -> None:
        run_log_to_warehouse(run_id=run.pk)
        run_finished.send(
            sender=PipelineRun,
            run_id=run.pk,
            tenant_id=run.tenant_id,
            status=status,
            wrote_focus=wrote_focus,
        )

    transaction.on_commit(finished)
    return True


def run_rows_written(*, run_id) -> int:
    """The run's row figure: rows its last completed table-writing step wrote (its final table)."""
    steps = StepRun.objects.filter(run_id=run_id, status=RunStatus.COMPLETED).order_by("-index")
    for details in steps.values_list("details", flat=True):
        if isinstance(details, dict) and isinstance(details.get(ROWS_WRITTEN), int):
            return details[ROWS_WRITTEN]
    return 0


def pipeline_run_execute(*, run_id, worker: str = "") -> PipelineRun | None:
    """Execute a pending run in this process. Returns None if it was not ours to run."""

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
