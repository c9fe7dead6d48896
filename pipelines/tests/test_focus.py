"""FOCUS normalization on the emulator: sample exports go file → warehouse → FOCUS, checked."""

import csv
import decimal
import shutil
from pathlib import Path

import pytest

from pipelines.configs import pipeline_config_get
from pipelines.focus import (
    ALLOWED_VALUES,
    MANDATORY_COLUMNS,
    allowed_values_sql,
    focus_sql,
)
from pipelines.processors import StepContext, StepFailed, processor_for
from pipelines.processors.file_load import column_names_from_header, csv_header_columns
from pipelines.tables import DQ_RESULTS
from pipelines.tests.gcp_export import gcp_export_load, gcp_export_rows

DATA = Path(__file__).parent / "data"
CENT = decimal.Decimal("0.01")


@pytest.fixture
def imports_dir(settings, tmp_path):
    """Local loads may read only from this directory: tenant acme's imports folder."""
    settings.PIPELINE_LOCAL_FILES_DIR = str(tmp_path)
    (tmp_path / "acme").mkdir()
    return tmp_path / "acme"


def csv_total(path: Path, column: str) -> decimal.Decimal:
    """The file's cost total, computed without the warehouse."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return sum(
            (decimal.Decimal(row[column]) for row in csv.DictReader(handle) if row[column]),
            decimal.Decimal(0),
        )


def run_pipeline(config, context: StepContext) -> dict:
    """Run a config's success-path steps in order, as the engine does; results by step id."""
    return {
        step.step_id: processor_for(step).run(context.for_step(step))
        for step in config.steps
        if step.runs_on == "success"
    }


def context_for(warehouse, dataset, config, parameters=None, **variables) -> StepContext:
    return StepContext(
        warehouse=warehouse,
        tenant_id="acme",
        dataset_id=dataset,
        params=config.typed_parameters(
            config.resolve_parameters(parameters or {}, tenant_id="acme")
        ),
        variables={**config.variables, **variables},
        run_id="run-1",
    )


def focus_table_checks(warehouse, dataset, table) -> dict:
    columns = {c.name.lower() for c in warehouse.table_columns(dataset, table)}
    outside = warehouse.query(allowed_values_sql(warehouse.table_ref(dataset, table))).rows[0]
    total = warehouse.query(
        f"SELECT SUM(BilledCost) AS total FROM {warehouse.quoted(dataset, table)}"
    ).rows[0]["total"]
    return {"columns": columns, "outside": outside, "total": total}


@pytest.mark.parametrize(
    ("provider", "sample", "cost_column", "rows"),
    [
        ("aws", "aws_cur_sample.csv", "lineItem/UnblendedCost", 1281),
        ("azure", "azure_ea_sample.csv", "CostInBillingCurrency", 27),
    ],
)
def test_sample_export_normalizes_to_focus(
    warehouse, scratch_dataset, imports_dir, provider, sample, cost_column, rows
):
    """A real export loads, normalizes and passes its DQ checks; totals match to the cent."""
    shutil.copy(DATA / sample, imports_dir / sample)
    config = pipeline_config_get(provider, "cost", "focus")
    context = context_for(warehouse, scratch_dataset, config, {"source_file": sample})

    results = run_pipeline(config, context)

    focus_table = config.variables["focus_table"]
    assert results["normalize_focus"].rows_processed == rows
    checks = focus_table_checks(warehouse, scratch_dataset, focus_table)
    # The emulator lower-cases CTAS column names; BigQuery names are case-insensitive anyway.
    assert {c.lower() for c in MANDATORY_COLUMNS} <= checks["columns"]
    assert {k.lower(): n for k, n in checks["outside"].items()} == {
        c.lower(): 0 for c in ALLOWED_VALUES
    }
    expected = csv_total(DATA / sample, cost_column)
    assert checks["total"].quantize(CENT) == expected.quantize(CENT)
    recorded = warehouse.query(
        f"SELECT check_name, status FROM {warehouse.quoted(scratch_dataset, DQ_RESULTS)}"
    ).rows
    assert {r["check_name"] for r in recorded} >= {"min_rows", "cost_total"}
    assert {r["status"] for r in recorded} == {"PASS"}


def test_gcp_export_normalizes_to_focus_with_credit_rows(warehouse, scratch_dataset, tmp_path):
    """Generated GCP export rows normalize; each credit is a Credit row; net totals match."""
    export = gcp_export_rows(count=150, seed=11)
    gcp_export_load(warehouse, scratch_dataset, "billing_export", export, tmp_path / "x.json")
    config = pipeline_config_get("gcp", "cost", "focus")
    source = warehouse.table_ref(scratch_dataset, "billing_export")
    context = context_for(warehouse, scratch_dataset, config, source_billing_table=source)

    run_pipeline(config, context)

    checks = focus_table_checks(warehouse, scratch_dataset, "gcp_cost_focus")
    assert {c.lower() for c in MANDATORY_COLUMNS} <= checks["columns"]
    assert all(n == 0 for n in checks["outside"].values())
    expected = sum(
        decimal.Decimal(str(r["cost"]))
        + sum(decimal.Decimal(str(c["amount"])) for c in r["credits"])
        for r in export
    )
    assert checks["total"].quantize(CENT) == expected.quantize(CENT)
    credits = warehouse.query(
        f"SELECT COUNT(*) AS n FROM {warehouse.quoted(scratch_dataset, 'gcp_cost_focus')} "
        "WHERE ChargeCategory = 'Credit'"
    ).rows[0]["n"]
    assert credits == sum(len(r["credits"]) for r in export) > 0


def test_gcp_generator_is_deterministic():
    """The same seed gives the same rows; another seed does not."""
    assert gcp_export_rows(count=20, seed=3) == gcp_export_rows(count=20, seed=3)
    assert gcp_export_rows(count=20, seed=3) != gcp_export_rows(count=20, seed=4)


def test_cost_reconciliation_failure_fails_the_step(warehouse, scratch_dataset, imports_dir):
    """A FOCUS table whose total drifts from the source by more than a cent fails DQ."""
    shutil.copy(DATA / "azure_ea_sample.csv", imports_dir / "a.csv")
    config = pipeline_config_get("azure", "cost", "focus")
    context = context_for(warehouse, scratch_dataset, config, {"source_file": "a.csv"})
    load, normalize, check = config.steps[:3]
    processor_for(load).run(context.for_step(load))
    processor_for(normalize).run(context.for_step(normalize))
    warehouse.query(
        f"UPDATE {warehouse.quoted(scratch_dataset, 'azure_cost_focus')} "
        "SET BilledCost = BilledCost + 1 WHERE TRUE"
    )
    with pytest.raises(StepFailed, match="cost_total"):
        processor_for(check).run(context.for_step(check))


def test_csv_schema_comes_from_the_header_only(tmp_path):
    """Header names become safe, unique column names; gzip is read; data rows are not."""
    import gzip

    path = tmp_path / "x.csv.gz"
    path.write_bytes(gzip.compress(b"lineItem/Cost,1st col,a b,A-B\n\xff\xfe not utf8\n"))
    # Column names are case-insensitive in BigQuery, so "A_B" would clash with "a_b".
    names = [c.name for c in csv_header_columns(path)]
    assert names == ["lineItem_Cost", "_1st_col", "a_b", "A_B_2"]
    assert column_names_from_header(["x", "X", "x"]) == ["x", "X_2", "x_3"]


def test_focus_sql_refuses_missing_required_columns():
    """A CUR table without its cost column is refused before any SQL runs."""
    from pipelines.focus import FocusSourceError

    with pytest.raises(FocusSourceError, match="lineItem_UnblendedCost"):
        focus_sql("aws", source="p-roject.d.s", destination="p-roject.d.t", source_columns=["a"])
