"""The generic mapped pipeline on the emulator: sample file → raw table → FOCUS, checked."""

import decimal
import shutil
from pathlib import Path

import pytest

from focus.conformance import allowed_values_sql, conformance_results, conformance_sql
from focus.model import ALLOWED_VALUES, FOCUS_COLUMNS
from mappings.selectors import mapped_pipeline_config
from pipelines.tests.test_focus import context_for, csv_total, run_pipeline
from warehouse.tables import DQ_RESULTS

DATA = Path(__file__).parent / "data"
CENT = decimal.Decimal("0.01")


@pytest.fixture
def imports_dir(settings, tmp_path):
    settings.PIPELINE_LOCAL_FILES_DIR = str(tmp_path)
    (tmp_path / "acme").mkdir()
    return tmp_path / "acme"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mapping", "sample", "cost_column", "rows"),
    [
        ("oci", "oci_cost_report_sample.csv", "cost/myCost", 33),
        ("focus_csv", "focus_csv_sample.csv", "BilledCost", 19),
    ],
)
def test_shipped_mapping_runs_to_a_conformant_focus_table(
    warehouse, scratch_dataset, imports_dir, mapping, sample, cost_column, rows
):
    """Each shipped mapping's sample loads, maps and passes every check; totals to the cent."""
    shutil.copy(DATA / sample, imports_dir / sample)
    config = mapped_pipeline_config(
        tenant_id="acme", provider=mapping, domain="cost", pipeline="focus"
    )
    results = run_pipeline(
        config, context_for(warehouse, scratch_dataset, config, {"source_file": sample})
    )

    table = f"{mapping}_cost_focus"
    assert config.variables["raw_table"] == f"{mapping}_mapped_raw"
    assert results["map_focus"].rows_processed == rows
    columns = {c.name: c.type for c in warehouse.table_columns(scratch_dataset, table)}
    assert {c.name: c.type for c in FOCUS_COLUMNS}.items() <= columns.items()
    ref = warehouse.table_ref(scratch_dataset, table)
    outside = warehouse.query(allowed_values_sql(ref)).rows[0]
    assert {k.lower(): n for k, n in outside.items()} == {c.lower(): 0 for c in ALLOWED_VALUES}
    broken = {
        rule.rule_id: n
        for rule, n in conformance_results(warehouse.query(conformance_sql(ref)).rows[0])
        if n
    }
    assert broken == {}
    total = warehouse.query(f"SELECT SUM(BilledCost) AS t FROM `{ref}`").rows[0]["t"]
    assert total.quantize(CENT) == csv_total(DATA / sample, cost_column).quantize(CENT)
    recorded = warehouse.query(
        f"SELECT check_name, status FROM {warehouse.quoted(scratch_dataset, DQ_RESULTS)}"
    ).rows
    assert "cost_total" in {r["check_name"] for r in recorded}
    assert {r["status"] for r in recorded} == {"PASS"}
