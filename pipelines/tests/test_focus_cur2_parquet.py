"""A CUR 2.0 data export as AWS Data Exports writes it, Parquet (typed columns, map columns),
through the pipeline a tenant runs for AWS: checked against the variants from its footer,
totals to the cent, and refused at load when its columns are no variant's."""

import decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from devtools.commitment_fixtures import aws_commitment_cur
from devtools.cur2_export import cur2_parquet, cur2_totals
from focus.normalize import source_variant
from pipelines.configs import pipeline_config_get
from pipelines.processors import StepContext, StepFailed, processor_for
from pipelines.tests.test_focus import CENT, context_for, imports_dir, run_pipeline

__all__ = ["imports_dir"]  # the fixture, used by name below


@pytest.fixture
def cur2_file(imports_dir):
    """The commitment fixture (reservations, savings plans, fees) as a CUR 2.0 Parquet file."""
    source = aws_commitment_cur(imports_dir.parent / "cur1_commitments.csv")
    return cur2_parquet(source, imports_dir / "cur2_commitments.parquet")


def test_cur2_parquet_is_typed_and_detected_as_cur2(cur2_file):
    """The file is what AWS writes (costs DOUBLE, usage dates TIMESTAMP, tags a map) and its
    footer's names are the CUR 2.0 variant."""
    schema = pq.read_schema(cur2_file)
    assert schema.field("line_item_unblended_cost").type == pa.float64()
    assert pa.types.is_timestamp(schema.field("line_item_usage_start_date").type)
    assert pa.types.is_map(schema.field("resource_tags").type)
    assert source_variant("aws/cost/focus", schema.names).key == "aws-cur2"


@pytest.mark.django_db
def test_cur2_parquet_runs_through_the_aws_pipeline_totals_to_the_cent(
    warehouse, scratch_dataset, imports_dir, cur2_file
):
    """configs/aws/cost/focus.yml (format: auto) loads the Parquet file as it is and writes
    FOCUS rows with SUM(BilledCost) equal to line_item_unblended_cost's sum and
    SUM(EffectiveCost) equal to the amortized cost (covered usage at its effective cost,
    the unused commitment), both computed from the Parquet file in Python; tags read from
    the resource_tags map, a region from the product map; no check failed."""
    config = pipeline_config_get("aws", "cost", "focus")
    context = context_for(warehouse, scratch_dataset, config, {"source_file": cur2_file.name})
    results = run_pipeline(config, context)
    assert results["load_cur"].details["format"] == "PARQUET"
    billed, amortized = cur2_totals(cur2_file)
    table = warehouse.quoted(scratch_dataset, "aws_cost_focus")
    sums = warehouse.query(
        "SELECT COUNT(*) AS n, SUM(BilledCost) AS billed, SUM(EffectiveCost) AS effective, "
        "COUNTIF(JSON_VALUE(Tags, '$.user_team') = 'web') AS tagged, "
        "COUNTIF(ChargePeriodStart IS NULL) AS undated, "
        "COUNTIF(RegionId IS NOT NULL AND x_LineItemType <> 'RIFee' "
        "AND x_LineItemType <> 'SavingsPlanRecurringFee') AS regional "
        f"FROM {table}"
    ).rows[0]
    kinds = pq.read_table(cur2_file, columns=["line_item_line_item_type"]).column(0).to_pylist()
    # Each line item once but a SavingsPlanNegation (FOCUS bills the covered usage at 0),
    # and one more row for each fee's unused commitment.
    expected_rows = (
        len(kinds)
        - kinds.count("SavingsPlanNegation")
        + kinds.count("RIFee")
        + kinds.count("SavingsPlanRecurringFee")
    )
    assert sums["n"] == expected_rows
    assert sums["billed"].quantize(CENT) == billed.quantize(CENT)
    assert sums["effective"].quantize(CENT) == amortized.quantize(CENT)
    assert billed.quantize(CENT) != amortized.quantize(CENT)
    assert sums["undated"] == 0
    assert sums["tagged"] > 0
    # A region only the product map holds (``product['region']``, no region code) is read.
    source = pq.read_table(cur2_file).to_pylist()
    regional = [
        r
        for r in source
        if r["line_item_line_item_type"]
        not in ("SavingsPlanNegation", "RIFee", "SavingsPlanRecurringFee")
        and (r["product_region_code"] or dict(r["product"]).get("region", "global") != "global")
    ]
    assert any(not r["product_region_code"] for r in regional)
    assert sums["regional"] == len(regional)
    checks = results["check_focus"].details["checks"]
    assert {name for name, check in checks.items() if not check["passed"]} == set()


@pytest.mark.django_db
def test_parquet_of_no_variant_is_refused_before_it_is_loaded(
    warehouse, scratch_dataset, imports_dir
):
    """A Parquet file whose columns are no AWS variant's is refused by the load step from its
    footer, naming the closest variant and what it lacked; nothing is loaded."""
    table = pa.table(
        {
            "line_item_unblended_cost": pa.array([decimal.Decimal("1.5")], pa.decimal128(18, 9)),
            "line_item_usage_start_date": pa.array([None], pa.timestamp("us", tz="UTC")),
        }
    )
    pq.write_table(table, imports_dir / "partial.parquet")
    config = pipeline_config_get("aws", "cost", "focus")
    context = context_for(warehouse, scratch_dataset, config, {"source_file": "partial.parquet"})
    with pytest.raises(StepFailed) as raised:
        run_pipeline(config, context)
    message = str(raised.value)
    assert "CUR 1.0 with snake_case headers" in message or "CUR 2.0" in message
    assert "line_item_line_item_type" in message and "Data Exports" in message
    assert "partial.parquet" not in message and str(imports_dir) not in message
    assert warehouse.tables_list(scratch_dataset) == []


@pytest.mark.django_db
def test_a_file_named_parquet_that_is_not_parquet_fails_naming_the_file(
    warehouse, scratch_dataset, imports_dir
):
    """A file named .parquet that holds CSV fails at load naming the file and the cause, with
    no server path or engine text."""
    (imports_dir / "export.parquet").write_text("line_item_unblended_cost\n1.5\n")
    config = pipeline_config_get("aws", "cost", "focus")
    context = context_for(warehouse, scratch_dataset, config, {"source_file": "export.parquet"})
    with pytest.raises(StepFailed) as raised:
        run_pipeline(config, context)
    assert str(raised.value) == "export.parquet is not a Parquet file"


class BucketAsFolder:
    """The emulator's warehouse with a registered bucket stood in for by a local folder: a
    ``gs://acme-exports/<name>`` load reads ``folder/<name>`` (the local emulator has no Cloud
    Storage), every other call goes to the real adapter."""

    def __init__(self, warehouse, folder: Path) -> None:
        self._warehouse = warehouse
        self.folder = folder
        self.deleted: list[str] = []

    def __getattr__(self, name):
        return getattr(self._warehouse, name)

    def load_file(self, source, *args, **options):
        return self._warehouse.load_file(
            self.folder / str(source).rsplit("/", 1)[1], *args, **options
        )

    def table_delete(self, dataset_id, table_id, **options):
        self.deleted.append(table_id)
        return self._warehouse.table_delete(dataset_id, table_id, **options)


def _gs_context(warehouse, dataset, folder, name):
    config = pipeline_config_get("aws", "cost", "focus")
    uri = f"gs://acme-exports/cur2/{name}"
    stand_in = BucketAsFolder(warehouse, folder)
    context = StepContext(
        warehouse=stand_in,
        tenant_id="acme",
        dataset_id=dataset,
        params=config.typed_parameters(config.resolve_parameters({"source_file": uri})),
        variables=dict(config.variables),
        run_id="run-1",
        buckets=frozenset({"acme-exports"}),
    )
    return config, context, stand_in


@pytest.mark.django_db
def test_gs_parquet_is_checked_against_the_variants_from_the_loaded_table(
    warehouse, scratch_dataset, tmp_path, cur2_file
):
    """A gs:// Parquet file (whose footer the step does not fetch) is checked from the loaded
    table's columns in the load step: a CUR 2.0 export passes, a file of no variant is refused
    naming what it lacked, its staging table dropped before any other step reads it."""
    pq.write_table(
        pa.table({"line_item_unblended_cost": [1.5], "bill_payer_account_id": ["1"]}),
        tmp_path / "partial.parquet",
    )
    (tmp_path / cur2_file.name).write_bytes(cur2_file.read_bytes())
    config, context, stand_in = _gs_context(warehouse, scratch_dataset, tmp_path, cur2_file.name)
    load = config.steps[0]
    assert processor_for(load).run(context.for_step(load)).details["format"] == "PARQUET"
    assert stand_in.deleted == []
    assert "aws_cur_raw__rrun1" in warehouse.tables_list(scratch_dataset)
    config, context, stand_in = _gs_context(warehouse, scratch_dataset, tmp_path, "partial.parquet")
    with pytest.raises(StepFailed, match="line_item_line_item_type") as raised:
        processor_for(load).run(context.for_step(load))
    assert "acme-exports" not in str(raised.value)
    assert stand_in.deleted == ["aws_cur_raw__rrun1"]
    assert "aws_cur_raw__rrun1" not in warehouse.tables_list(scratch_dataset)
