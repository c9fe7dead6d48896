"""Runs end to end on the emulator: sample files become checked FOCUS tables, logged once."""

import csv
import decimal
import shutil
from pathlib import Path

import pytest
from django.core import mail

from pipelines.errors import InvalidRunParameters, QuotaExceeded, TenantCannotRun
from pipelines.models import PipelineRun, RunStatus, StepStatus
from pipelines.services.runs import (
    pipeline_run_cancel,
    pipeline_run_execute,
    pipeline_run_start,
    run_log_to_warehouse,
)
from tenants.models import UsageWindow
from tenants.services.audit import Actor
from tenants.services.lifecycle import tenant_suspend
from warehouse.bigquery import Warehouse, WarehouseUnavailable
from warehouse.tables import DQ_RESULTS, PIPELINE_RUNS, STEP_LOGS

DATA = Path(__file__).parent.parent / "data"
ACTOR = Actor.system("test")


@pytest.fixture
def execute(django_capture_on_commit_callbacks):
    """Execute a run as a worker does, with its after-commit work (warehouse logging) run."""

    def _execute(run):
        with django_capture_on_commit_callbacks(execute=True):
            return pipeline_run_execute(run_id=run.pk)

    return _execute


@pytest.fixture
def imports_dir(settings, tmp_path):
    settings.PIPELINE_LOCAL_FILES_DIR = str(tmp_path)
    return tmp_path


def _source_total(path: Path, column: str) -> decimal.Decimal:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return sum(
            (decimal.Decimal(r[column]) for r in csv.DictReader(handle) if r[column]),
            decimal.Decimal(0),
        )


def _count(warehouse, dataset, table, run_id) -> int:
    return warehouse.query(
        f"SELECT COUNT(*) AS n FROM {warehouse.quoted(dataset, table)} "
        "WHERE pipeline_logging_id = @run",
        {"run": str(run_id)},
    ).rows[0]["n"]


@pytest.mark.parametrize(
    ("provider", "sample", "cost_column", "focus_table"),
    [
        ("aws", "aws_cur_sample.csv", "lineItem/UnblendedCost", "aws_cost_focus"),
        ("azure", "azure_ea_sample.csv", "CostInBillingCurrency", "azure_cost_focus"),
    ],
)
def test_sample_file_to_focus_through_the_pipeline(
    onboard, warehouse, imports_dir, execute, provider, sample, cost_column, focus_table
):
    """A sample export runs file → raw table → FOCUS → checks; totals match to the cent."""
    onboarded = onboard(plan="SCALE")
    tenant_id, dataset = onboarded.tenant.id, onboarded.dataset_id
    (imports_dir / tenant_id).mkdir()
    shutil.copy(DATA / sample, imports_dir / tenant_id / sample)
    run = pipeline_run_start(
        tenant_id=tenant_id,
        provider=provider,
        domain="cost",
        pipeline="focus",
        parameters={"date": "2023-09-02", "source_file": sample},
        enqueue=False,
    )
    assert run.parameters["source_file"] == sample  # no server path is stored or shown
    run = execute(run)
    assert run.status == RunStatus.COMPLETED, (run.error_message, list(run.steps.values()))
    statuses = dict(run.steps.values_list("step_id", "status"))
    assert statuses["notify_failure"] == StepStatus.SKIPPED  # only on failure
    assert {s for k, s in statuses.items() if k != "notify_failure"} == {RunStatus.COMPLETED}
    # The run's row figure is the rows of its final (FOCUS) table, not a sum over its steps.
    focus_rows = warehouse.query(
        f"SELECT COUNT(*) AS n FROM {warehouse.quoted(dataset, focus_table)}"
    ).rows[0]["n"]
    assert run.rows_processed == focus_rows
    assert run.rows_processed < sum(run.steps.values_list("rows_processed", flat=True))

    total = warehouse.query(
        f"SELECT SUM(BilledCost) AS total FROM {warehouse.quoted(dataset, focus_table)}"
    ).rows[0]["total"]
    expected = _source_total(DATA / sample, cost_column)
    assert decimal.Decimal(total).quantize(decimal.Decimal("0.01")) == expected.quantize(
        decimal.Decimal("0.01")
    )
    dq = warehouse.query(
        f"SELECT check_name, status FROM {warehouse.quoted(dataset, DQ_RESULTS)} "
        "WHERE pipeline_logging_id = @run",
        {"run": str(run.pk)},
    ).rows
    assert dq and {r["status"] for r in dq} == {"PASS"}, dq
    assert {"cost_total", "allowed_values"} <= {r["check_name"].split(":")[0] for r in dq}
    assert _count(warehouse, dataset, PIPELINE_RUNS, run.pk) == 1
    assert _count(warehouse, dataset, STEP_LOGS, run.pk) == run.steps.count()
    logged = warehouse.query(
        f"SELECT step_id, status FROM {warehouse.quoted(dataset, STEP_LOGS)} "
        "WHERE pipeline_logging_id = @run",
        {"run": str(run.pk)},
    ).rows
    assert {r["step_id"]: r["status"] for r in logged}["notify_failure"] == "SKIPPED"
    assert not run.holds_slot


def test_a_cur_2_parquet_export_loads_as_parquet(onboard, warehouse, imports_dir, execute):
    """A CUR 2.0 export as Parquet (snake_case names, typed columns) loads as Parquet, keeps
    its column types, and becomes FOCUS rows whose cost total is the file's, to the cent."""
    import duckdb

    from focus.sql import cur2_name
    from warehouse.files import column_names_from_header

    onboarded = onboard(plan="SCALE")
    tenant_id, dataset = onboarded.tenant.id, onboarded.dataset_id
    (imports_dir / tenant_id).mkdir()
    sample = DATA / "aws_cur_sample.csv"
    with sample.open(newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle))
    names = [cur2_name(n) for n in column_names_from_header(header)]
    target = imports_dir / tenant_id / "cur2.parquet"
    conn = duckdb.connect()
    conn.execute(
        "COPY (SELECT * FROM read_csv(?, header = true, names = ?, types = "
        "{'line_item_unblended_cost': 'DOUBLE'})) TO '" + str(target) + "' (FORMAT PARQUET)",
        [str(sample), names],
    )
    conn.close()
    run = pipeline_run_start(
        tenant_id=tenant_id,
        provider="aws",
        domain="cost",
        pipeline="focus",
        parameters={"date": "2023-09-02", "source_file": "cur2.parquet"},
        enqueue=False,
    )
    run = execute(run)
    assert run.status == RunStatus.COMPLETED, (run.error_message, list(run.steps.values()))
    # Loaded as Parquet (its own column types), into the run's own raw table, dropped since.
    load = run.steps.get(step_id="load_cur")
    assert load.details["format"] == "PARQUET"
    assert load.details["table"] == f"aws_cur_raw__r{run.pk.hex}"
    assert load.details["table"] not in warehouse.tables_list(dataset)
    total = warehouse.query(
        f"SELECT SUM(BilledCost) AS total FROM {warehouse.quoted(dataset, 'aws_cost_focus')}"
    ).rows[0]["total"]
    expected = _source_total(sample, "lineItem/UnblendedCost")
    cent = decimal.Decimal("0.01")
    assert decimal.Decimal(total).quantize(cent) == expected.quantize(cent)


def test_failed_step_fails_run_notifies_and_logs_once(onboard, warehouse, imports_dir, execute):
    """A missing source file fails the load; later steps are skipped, the failure emailed."""
    onboarded = onboard(plan="SCALE")
    (imports_dir / onboarded.tenant.id).mkdir()
    (imports_dir / onboarded.tenant.id / "empty.csv").write_text("")
    run = pipeline_run_start(
        tenant_id=onboarded.tenant.id,
        provider="aws",
        domain="cost",
        pipeline="focus",
        parameters={"source_file": "empty.csv"},
        enqueue=False,
    )
    run = execute(run)
    assert run.status == RunStatus.FAILED
    assert "load_cur" in run.error_message
    statuses = dict(run.steps.values_list("step_id", "status"))
    assert statuses == {
        "load_cur": RunStatus.FAILED,
        "normalize_focus": StepStatus.SKIPPED,
        "check_focus": StepStatus.SKIPPED,
        "replace_periods": StepStatus.SKIPPED,
        "detect_anomalies": StepStatus.SKIPPED,
        "notify_failure": RunStatus.COMPLETED,
    }
    assert len(mail.outbox) == 1
    assert onboarded.tenant.admin_email in mail.outbox[0].to
    assert str(run.pk) in mail.outbox[0].body
    assert not run.holds_slot
    assert _count(warehouse, onboarded.dataset_id, PIPELINE_RUNS, run.pk) == 1
    assert run_log_to_warehouse(run_id=run.pk) is False  # already logged: never twice
    assert _count(warehouse, onboarded.dataset_id, PIPELINE_RUNS, run.pk) == 1


def test_transient_warehouse_errors_are_retried(onboard, warehouse, monkeypatch, execute):
    """A step whose first warehouse calls fail transiently still completes."""
    monkeypatch.setattr("pipelines.engine.wait_exponential", lambda **kw: lambda state: 0)
    onboarded = onboard()
    failures = iter([WarehouseUnavailable("503 from the warehouse")] * 2)
    real_query = Warehouse.query

    def flaky_query(self, sql, params=None):
        error = next(failures, None)
        if error is not None:
            raise error
        return real_query(self, sql, params)

    monkeypatch.setattr(Warehouse, "query", flaky_query)
    run = pipeline_run_start(
        tenant_id=onboarded.tenant.id,
        provider="example",
        domain="demo",
        pipeline="hello",
        parameters={"date": "2024-09-01"},
        enqueue=False,
    )
    run = execute(run)
    assert run.status == RunStatus.COMPLETED, run.error_message
    assert next(failures, None) is None  # both failures were consumed


def test_cancel_pending_and_running(onboard):
    """A pending run is cancelled at once and frees its slot; a running one is asked to stop."""
    onboarded = onboard()
    run = pipeline_run_start(
        tenant_id=onboarded.tenant.id,
        provider="example",
        domain="demo",
        pipeline="hello",
        parameters={"date": "2024-09-01"},
        enqueue=False,
    )
    pipeline_run_cancel(run=run, actor=ACTOR)
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED and not run.holds_slot
    assert pipeline_run_execute(run_id=run.pk) is None  # a cancelled run never starts

    second = pipeline_run_start(
        tenant_id=onboarded.tenant.id,
        provider="example",
        domain="demo",
        pipeline="hello",
        parameters={"date": "2024-09-02"},
        enqueue=False,
    )
    PipelineRun.objects.filter(pk=second.pk).update(status=RunStatus.RUNNING)
    pipeline_run_cancel(run=second, actor=ACTOR)
    second.refresh_from_db()
    assert second.cancel_requested and second.status == RunStatus.RUNNING


def test_refusals_leave_nothing(onboard):
    """Bad parameters, a suspended tenant and a spent quota refuse without rows or usage."""
    onboarded = onboard()
    tenant_id = onboarded.tenant.id
    start = {
        "tenant_id": tenant_id,
        "provider": "example",
        "domain": "demo",
        "pipeline": "hello",
        "enqueue": False,
    }
    with pytest.raises(InvalidRunParameters, match="date"):
        pipeline_run_start(parameters={"date": "yesterday"}, **start)
    with pytest.raises(InvalidRunParameters, match="bogus"):
        pipeline_run_start(parameters={"date": "2024-09-01", "bogus": 1}, **start)
    UsageWindow.objects.filter(tenant_id=tenant_id, kind="day").update(runs_used=6)
    with pytest.raises(QuotaExceeded) as info:
        pipeline_run_start(parameters={"date": "2024-09-01"}, **start)
    assert (info.value.used, info.value.limit, info.value.window) == (6, 6, "daily")
    tenant_suspend(tenant=onboarded.tenant, actor=ACTOR, reason="unpaid")
    with pytest.raises(TenantCannotRun, match="SUSPENDED"):
        pipeline_run_start(parameters={"date": "2024-09-01"}, **start)
    assert PipelineRun.objects.count() == 0
    assert UsageWindow.objects.get(tenant_id=tenant_id, kind="month").runs_used == 0


def test_a_tenant_cannot_load_another_tenants_file(onboard, imports_dir):
    """Local files resolve inside the tenant's own imports folder; a path out is refused."""
    onboarded = onboard()
    (imports_dir / "victim").mkdir()
    shutil.copy(DATA / "azure_ea_sample.csv", imports_dir / "victim" / "export.csv")
    for source in ("../victim/export.csv", str(imports_dir / "victim" / "export.csv")):
        with pytest.raises(InvalidRunParameters, match="outside the local imports directory"):
            pipeline_run_start(
                tenant_id=onboarded.tenant.id,
                provider="azure",
                domain="cost",
                pipeline="focus",
                parameters={"source_file": source},
                enqueue=False,
            )
    assert PipelineRun.objects.count() == 0
