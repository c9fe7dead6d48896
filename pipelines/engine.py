"""The engine: run a pipeline's steps in order through their processors, recording each step."""

import dataclasses
import logging
import threading
import traceback
from collections.abc import Mapping

from django.conf import settings
from django.db import connection
from django.utils import timezone
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
)

from pipelines.configs import pipeline_config_resolve
from pipelines.errors import tenant_message
from pipelines.models import ROWS_WRITTEN, PipelineRun, RunStatus, StepRun, StepStatus
from pipelines.processors import StepContext, StepResult, processor_for
from tenants.selectors import run_inputs_for_tenant
from warehouse.bigquery import WarehouseUnavailable
from warehouse.sql_identifiers import RUN_TAG

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15
STEP_ATTEMPTS = 4


class Heartbeat:
    """Touch the run's ``heartbeat_at`` from a side thread while its steps work."""

    def __init__(self, run_id, interval: float = HEARTBEAT_SECONDS) -> None:
        self.run_id = run_id
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name=f"heartbeat-{run_id}")

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                PipelineRun.objects.filter(pk=self.run_id, status=RunStatus.RUNNING).update(
                    heartbeat_at=timezone.now()
                )
        finally:
            connection.close()


def _retrying() -> Retrying:
    """Transient warehouse errors are retried with exponential backoff, within the retry budget
    (``WAREHOUSE_RETRY_SECONDS``, counted from the step's first attempt); others fail the step."""
    return Retrying(
        retry=retry_if_exception_type(WarehouseUnavailable),
        wait=wait_exponential(multiplier=1, min=1, max=30),
        stop=stop_after_attempt(STEP_ATTEMPTS) | stop_after_delay(settings.WAREHOUSE_RETRY_SECONDS),
        reraise=True,
    )


def _cancel_requested(run: PipelineRun) -> bool:
    return PipelineRun.objects.filter(pk=run.pk, cancel_requested=True).exists()


def run_steps(run: PipelineRun) -> tuple[str, str]:
    """Execute every step; returns the run's final status and error text.

    Notification steps (``runs_on: failure``) run only after another step failed.
    """

    config = pipeline_config_resolve(
        run.provider, run.domain, run.pipeline, tenant_id=run.tenant_id
    )
    rows = {s.index: s for s in run.steps.all()}
    inputs = run_inputs_for_tenant(tenant_id=run.tenant_id, provider=run.provider)
    context = StepContext.for_run(
        run,
        config,
        variables=inputs.variables,
        notification_emails=inputs.recipients,
        sources=inputs.sources,
        buckets=inputs.buckets,
        service_account=inputs.service_account,
    )
    try:
        with Heartbeat(run.pk):
            return _steps_run(run, config, context, rows)
    finally:
        _staging_drop(config, context)


def _steps_run(run: PipelineRun, config, context: StepContext, rows: dict) -> tuple[str, str]:
    """The steps in order; a block of steps that read the run's file runs once per file when
    the file parameter names several (a backfill), each file's periods replaced in turn."""
    param, contexts = _file_contexts(config, context)
    failure: str = ""
    failed_step = ""
    # A step that ends the run early (nothing to do): the later steps are skipped.
    ended_early = ""
    # Parameters earlier steps gave the later ones (StepResult.outputs).
    outputs: dict = {}
    results: dict[int, list[tuple[str, StepResult]]] = {}
    ended: set[int] = set()
    for indices, per_file in _blocks(config.steps, param):
        for file_context in contexts if per_file else [context]:
            for index in indices:
                step, row = config.steps[index], rows[index]
                processor = processor_for(step)
                if index in ended or processor.runs_on_failure != bool(failure) or ended_early:
                    continue
                if not failure and _cancel_requested(run):
                    return RunStatus.CANCELLED, "Cancelled while running."
                if index not in results:
                    _step_start(row)
                    results[index] = []
                step_context = file_context.for_step(step, failed_step, failure)
                if outputs:
                    step_context = dataclasses.replace(
                        step_context, params={**step_context.params, **outputs}
                    )
                try:
                    result = _retrying()(processor.run, step_context)
                except (Exception, RetryError) as exc:
                    # The operator log keeps the whole text; the tenant sees it without
                    # server paths or source lines.
                    full = _error_text(exc)
                    logger.warning("run %s step %s failed: %s", run.pk, step.step_id, full)
                    message = tenant_message(_error_text(exc, located=False))
                    if isinstance(exc, WarehouseUnavailable):
                        message = (
                            "The warehouse is unavailable; gave up after retrying for "
                            f"{settings.WAREHOUSE_RETRY_SECONDS:g} s. {message}"
                        )
                    if per_file and len(contexts) > 1:
                        message = f"{file_context.params[param]}: {message}"
                    _step_end(row, RunStatus.FAILED, error=message)
                    ended.add(index)
                    if not failure:
                        failure, failed_step = (
                            f"Step {step.step_id} failed: {message}",
                            step.step_id,
                        )
                    continue
                name = str(file_context.params[param]) if per_file else ""
                results[index].append((name, result))
                outputs.update(result.outputs)
                ended_early = result.ends_run
            if failure:
                break  # the files after a failed one are not loaded
        for index in indices:
            if index in ended:
                continue
            if results.get(index):
                _step_complete(config.steps[index], rows[index], results[index])
            else:
                _step_skip(rows[index])
    if failure:
        return RunStatus.FAILED, failure
    return RunStatus.COMPLETED, ""


def _file_contexts(config, context: StepContext) -> tuple[str | None, list[StepContext]]:
    """The file parameter holding several files (a backfill) and one context per file, in
    order; (None, [context]) for a run of one file."""
    for spec in config.parameters:
        files = context.params.get(spec.name)
        if spec.type == "file" and isinstance(files, list | tuple):
            return spec.name, [
                dataclasses.replace(context, params={**context.params, spec.name: f}) for f in files
            ]
    return None, [context]


def _blocks(steps, param: str | None) -> list[tuple[list[int], bool]]:
    """The steps as runs of neighbours that are (or are not) repeated per file: those that
    read the file parameter or the run's staging tables."""
    blocks: list[tuple[list[int], bool]] = []
    for index, step in enumerate(steps):
        per_file = param is not None and (
            bool(_staging_templates(step.options)) or param in _strings(step.options)
        )
        if blocks and blocks[-1][1] == per_file:
            blocks[-1][0].append(index)
        else:
            blocks.append(([index], per_file))
    return blocks


def _strings(value) -> list[str]:
    """Every string in a step's options."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def _step_complete(step, row: StepRun, done: list[tuple[str, StepResult]]) -> None:
    """Record a completed step; over several files its figures are summed, its billing
    periods listed in turn and its checks named per file."""
    if len(done) == 1:
        details = dict(done[0][1].details)
    else:
        details = {
            "files": [{"source": name, **result.details} for name, result in done],
            "billing_periods": [
                p for _, result in done for p in result.details.get("billing_periods", ())
            ],
        }
        checks = {
            f"{name}: {check}": outcome
            for name, result in done
            for check, outcome in (result.details.get("checks") or {}).items()
        }
        if checks:
            details["checks"] = checks
            for entry in details["files"]:
                entry.pop("checks", None)
    rows_done = sum(result.rows_processed for _, result in done)
    if _writes_final_table(step):
        # The run's row figure is the last of these: rows written to its final table.
        details[ROWS_WRITTEN] = rows_done
    _step_end(
        row,
        RunStatus.COMPLETED,
        rows=rows_done,
        bytes_=sum(result.bytes_processed for _, result in done),
        details=details,
    )


def _staging_templates(value) -> list[str]:
    """The table templates named with ``{run_tag}`` anywhere in a step's options."""
    return [s for s in _strings(value) if RUN_TAG in s]


def _writes_final_table(step) -> bool:
    """A step writing a table other than the run's own staging: its rows are the run's figure."""
    destination = step.options.get("destination")
    return isinstance(destination, Mapping) and not _staging_templates(destination.get("table"))


def _staging_drop(config, context: StepContext) -> None:
    """Drop the run's staging tables (named with its ``{run_tag}``), whatever its outcome."""
    templates = {t for step in config.steps for t in _staging_templates(step.options)}
    for template in sorted(templates):
        try:
            context.warehouse.table_delete(context.dataset_id, context.table_in_dataset(template))
        except Exception as exc:  # the run's outcome stands; a leftover is logged
            logger.warning(
                "run %s: staging table %s not dropped: %s", context.run_id, template, exc
            )


def _error_text(exc: BaseException, *, located: bool = True) -> str:
    text = str(exc) or type(exc).__name__
    if not isinstance(exc, Exception) or type(exc).__module__.startswith("pipelines"):
        return text[:2000]
    # Unexpected errors keep their type, and for the log their last frame.
    frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ and located else []
    where = f" at {frame[0].filename.rsplit('/', 1)[-1]}:{frame[0].lineno}" if frame else ""
    return f"{type(exc).__name__}: {text}{where}"[:2000]


def _step_start(row: StepRun) -> None:
    row.status = RunStatus.RUNNING
    row.started_at = timezone.now()
    row.save(update_fields=["status", "started_at"])


def _step_end(
    row: StepRun,
    status: str,
    *,
    rows: int = 0,
    bytes_: int = 0,
    error: str = "",
    details: dict | None = None,
) -> None:
    row.status = status
    row.ended_at = timezone.now()
    row.rows_processed = rows
    row.bytes_processed = bytes_
    row.error_message = error
    row.details = details or {}
    row.save(
        update_fields=[
            "status",
            "ended_at",
            "rows_processed",
            "bytes_processed",
            "error_message",
            "details",
        ]
    )


def _step_skip(row: StepRun) -> None:
    """A step not needed for this outcome (a failure notice on success, work after a failed
    step) is marked skipped."""
    StepRun.objects.filter(pk=row.pk).update(status=StepStatus.SKIPPED)
