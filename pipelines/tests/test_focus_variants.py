"""Export variants told apart by their header (``focus/variants.py``): each goes through the
pipeline a tenant runs for it, totals to the cent against its own cost column, or is refused
at load naming the closest variant and what to export instead."""

import csv
import decimal
import io
import shutil
from pathlib import Path

import pytest

from devtools.gcp_export import GCP_EXPORT_DDL, gcp_export_load, gcp_export_rows
from focus.normalize import VARIANTS, source_variant
from focus.variants import VariantRefused, header_key
from pipelines.configs import pipeline_config_get
from pipelines.processors import StepFailed
from pipelines.tests.test_focus import CENT, DATA, context_for, imports_dir, run_pipeline

__all__ = ["imports_dir"]  # the fixture, used by name below

VARIANT_DATA = DATA / "variants"
ROOT = Path(__file__).resolve().parents[2]


def column_total(path: Path, column: str, *, skip=lambda row: False) -> decimal.Decimal:
    """A column's sum over the file, computed in Python from the CSV (a BOM is skipped)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return sum(
            (
                decimal.Decimal(row[column])
                for row in csv.DictReader(handle)
                if row[column] and not skip(row)
            ),
            decimal.Decimal(0),
        )


def run_file(warehouse, dataset, imports, path: Path, provider: str, pipeline: str = "focus"):
    shutil.copy(path, imports / path.name)
    config = pipeline_config_get(provider, "cost", pipeline)
    context = context_for(warehouse, dataset, config, {"source_file": path.name})
    results = run_pipeline(config, context)
    table = warehouse.quoted(dataset, config.variables["focus_table"])
    sums = warehouse.query(
        "SELECT COUNT(*) AS n, SUM(BilledCost) AS billed, SUM(EffectiveCost) AS effective "
        f"FROM {table}"
    ).rows[0]
    return results, sums


def failed_rules(results) -> dict:
    checks = results["check_focus"].details["checks"]
    return {name: c["observed"] for name, c in checks.items() if not c["passed"]}


def test_header_key_ignores_bom_case_and_separators():
    """A BOM, case and separators do not tell headers apart; word splits do."""
    assert header_key("\ufeffCostInBillingCurrency") == header_key("costInBillingCurrency")
    assert header_key("lineItem/UnblendedCost") == header_key("lineitem_unblendedcost")
    assert header_key("lineItem/UnblendedCost") != header_key("line_item_unblended_cost")


def test_every_variant_names_an_existing_sample_and_is_detected_from_its_own_signature():
    """Each declared variant is what its own signature is detected as (no two variants
    claim the same header), and the sample it names is in the repository."""
    for variant in VARIANTS:
        assert (ROOT / variant.sample.split(" ")[0]).exists(), variant.key
        if variant.refused:
            with pytest.raises(VariantRefused, match="legacy"):
                source_variant(variant.pipeline, variant.signature)
        else:
            columns = (*variant.signature, *variant.required)
            assert source_variant(variant.pipeline, columns).key == variant.key


@pytest.mark.parametrize(
    ("sample", "pipeline", "key"),
    [
        ("aws_cur_sample.csv", "aws/cost/focus", "aws-cur1"),
        ("azure_ea_sample.csv", "azure/cost/focus", "azure-ea"),
        ("focus_1_0_sample.csv", "focus/cost/native", "focus"),
        ("variants/azure_ea_cost_actual.csv", "azure/cost/focus", "azure-ea-cost"),
        ("variants/azure_ea_cost_amortized.csv", "azure/cost/focus", "azure-ea-cost"),
        ("variants/azure_ea_iso_dates.csv", "azure/cost/focus", "azure-ea"),
        ("variants/azure_cost_details_camel.csv", "azure/cost/focus", "azure-cost-details"),
        ("variants/aws_cur_athena.csv", "aws/cost/focus", "aws-cur1-snake"),
        ("variants/aws_focus_1_0.csv", "focus/cost/native", "aws-focus"),
        ("variants/azure_focus_1_0.csv", "focus/cost/native", "azure-focus"),
        ("variants/oci_focus_1_0.csv", "focus/cost/native", "oci-focus"),
        (
            "../../../mappings/tests/data/oci_cost_report_basic.csv",
            "oci/cost/focus",
            "oci-cost-report",
        ),
    ],
)
def test_sample_headers_are_detected_as_their_variant(sample, pipeline, key):
    with (DATA / sample).open(newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle))
    assert source_variant(pipeline, header).key == key


def test_another_pipelines_variant_is_refused_naming_the_pipeline_to_run():
    """A FOCUS export sent to the AWS CUR pipeline is refused, naming focus/cost/native."""
    with pytest.raises(VariantRefused, match="run focus/cost/native with it"):
        source_variant(
            "aws/cost/focus",
            [
                "BilledCost",
                "ChargePeriodStart",
                "BillingCurrency",
                "ServiceName",
                "x_ServiceCode",
                "x_UsageType",
                "x_Operation",
            ],
        )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sample", "rows", "billed_filter"),
    [
        # Actual cost: BilledCost is the file's cost column, to the cent.
        ("azure_ea_cost_actual.csv", 7, None),
        ("azure_ea_iso_dates.csv", 5, None),
        ("azure_cost_details_camel.csv", 7, None),
    ],
)
def test_azure_actual_cost_variants_bill_their_cost_column(
    warehouse, scratch_dataset, imports_dir, sample, rows, billed_filter
):
    """An Azure actual-cost export, in each variant (EA with ``Cost`` and a BOM, ISO dates with
    and without a time, camelCase cost details), completes with SUM(BilledCost) equal to its
    cost column and every date parsed."""
    path = VARIANT_DATA / sample
    results, sums = run_file(warehouse, scratch_dataset, imports_dir, path, "azure")
    cost = (
        "costInBillingCurrency"
        if "camel" in sample
        else ("CostInBillingCurrency" if "iso" in sample else "Cost")
    )
    assert sums["n"] == rows
    assert sums["billed"].quantize(CENT) == column_total(path, cost).quantize(CENT)
    assert not {k for k in failed_rules(results) if not k.startswith("focus:")}
    table = warehouse.quoted(scratch_dataset, "azure_cost_focus")
    undated = warehouse.query(
        "SELECT COUNTIF(ChargePeriodStart IS NULL OR BillingPeriodStart IS NULL "
        "OR BillingPeriodEnd IS NULL) AS n, MIN(BillingPeriodStart) AS start "
        f"FROM {table}"
    ).rows[0]
    assert undated["n"] == 0
    assert undated["start"].day == 1 and undated["start"].month == 9


@pytest.mark.django_db
def test_azure_amortized_export_gives_effective_cost_equal_to_its_cost_column(
    warehouse, scratch_dataset, imports_dir
):
    """An amortized export (covered usage and unused commitment carry their share of the
    commitment in ``Cost``; no purchase rows): SUM(EffectiveCost) equals its cost column, and
    BilledCost is the cost of the rows no commitment covers."""
    path = VARIANT_DATA / "azure_ea_cost_amortized.csv"
    results, sums = run_file(warehouse, scratch_dataset, imports_dir, path, "azure")
    assert sums["effective"].quantize(CENT) == column_total(path, "Cost").quantize(CENT)
    on_demand = column_total(path, "Cost", skip=lambda row: bool(row["benefitId"]))
    assert sums["billed"].quantize(CENT) == on_demand.quantize(CENT)
    assert on_demand.quantize(CENT) != column_total(path, "Cost").quantize(CENT)
    checks = results["check_focus"].details["checks"]
    assert checks["cost_total"]["passed"] and checks["amortized_total"]["passed"]


@pytest.mark.django_db
def test_legacy_azure_usage_file_is_refused_at_load(warehouse, scratch_dataset, imports_dir):
    """Azure's legacy usage file (UsageDateTime, PreTaxCost) is refused by the load step,
    saying what it is and what to export instead; nothing is loaded."""
    path = VARIANT_DATA / "azure_legacy_usage.csv"
    shutil.copy(path, imports_dir / path.name)
    config = pipeline_config_get("azure", "cost", "focus")
    context = context_for(warehouse, scratch_dataset, config, {"source_file": path.name})
    with pytest.raises(StepFailed) as raised:
        run_pipeline(config, context)
    message = str(raised.value)
    assert "legacy usage file" in message and "Cost and usage details" in message
    assert str(imports_dir) not in message and ".csv" not in message
    assert "azure_export_raw" not in warehouse.tables_list(scratch_dataset)


@pytest.mark.django_db
def test_unknown_header_is_refused_at_load_naming_the_closest_variant_and_its_gaps(
    warehouse, scratch_dataset, imports_dir
):
    """A file with some of a variant's columns is refused naming that variant, the columns
    it lacked, and how to get a file that works."""
    (imports_dir / "odd.csv").write_text("\ufeffDate,Cost,MeterCategory\n9/1/2023,1.5,Storage\n")
    config = pipeline_config_get("azure", "cost", "focus")
    context = context_for(warehouse, scratch_dataset, config, {"source_file": "odd.csv"})
    with pytest.raises(StepFailed) as raised:
        run_pipeline(config, context)
    message = str(raised.value)
    assert "Azure EA cost-details export with Cost and BillingCurrency" in message
    assert "BillingCurrency, PricingModel, BillingAccountId" in message
    assert "Cost Management > Exports" in message
    assert "odd.csv" not in message and str(imports_dir) not in message


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sample", "rows"),
    [("aws_focus_1_0.csv", 4), ("azure_focus_1_0.csv", 4), ("oci_focus_1_0.csv", 4)],
)
def test_provider_focus_exports_run_through_the_native_pipeline(
    warehouse, scratch_dataset, imports_dir, sample, rows
):
    """AWS's, Azure's and OCI's FOCUS exports complete through focus/cost/native with both
    totals equal to their own BilledCost and EffectiveCost columns and no FOCUS rule broken."""
    path = VARIANT_DATA / sample
    results, sums = run_file(warehouse, scratch_dataset, imports_dir, path, "focus", "native")
    assert sums["n"] == rows
    assert sums["billed"].quantize(CENT) == column_total(path, "BilledCost").quantize(CENT)
    assert sums["effective"].quantize(CENT) == column_total(path, "EffectiveCost").quantize(CENT)
    assert failed_rules(results) == {}


@pytest.mark.django_db
def test_cur_with_athena_snake_case_headers_runs_through_the_aws_pipeline(
    warehouse, scratch_dataset, imports_dir
):
    """A CUR 1.0 as Athena names its columns (``line_item_unblended_cost``, timestamps with a
    blank and milliseconds, ``resource_tags_user_*``) completes, billed total to the cent,
    tags kept under their own keys."""
    path = VARIANT_DATA / "aws_cur_athena.csv"
    results, sums = run_file(warehouse, scratch_dataset, imports_dir, path, "aws")
    assert sums["n"] == 5
    expected = column_total(path, "line_item_unblended_cost")
    assert sums["billed"].quantize(CENT) == expected.quantize(CENT)
    assert failed_rules(results) == {}
    table = warehouse.quoted(scratch_dataset, "aws_cost_focus")
    tagged = warehouse.query(
        f"SELECT COUNTIF(JSON_VALUE(Tags, '$.team') = 'web') AS web FROM {table}"
    ).rows[0]
    assert tagged["web"] == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("ragged.csv", lambda header: f'{header}\n"unterminated,1,2\n1,2\n'.encode()),
        # Latin-1 where UTF-8 belongs (a file re-saved by a spreadsheet).
        (
            "latin1.csv",
            lambda header: (
                (VARIANT_DATA / "azure_cost_details_camel.csv")
                .read_text()
                .replace("Example Enrollment", "Exempl\u00e9 Enrollment")
                .encode("latin-1")
            ),
        ),
    ],
)
def test_a_file_the_warehouse_cannot_parse_fails_without_engine_text(
    warehouse, scratch_dataset, imports_dir, name, content
):
    """A file whose rows the load cannot read fails naming the file and what a readable one
    is: no temporary upload name, server path or engine message reaches the run's error."""
    header = (VARIANT_DATA / "aws_focus_1_0.csv").read_text().splitlines()[0]
    (imports_dir / name).write_bytes(content(header))
    provider, pipeline = ("focus", "native") if name == "ragged.csv" else ("azure", "focus")
    config = pipeline_config_get(provider, "cost", pipeline)
    context = context_for(warehouse, scratch_dataset, config, {"source_file": name})
    with pytest.raises(StepFailed) as raised:
        run_pipeline(config, context)
    message = str(raised.value)
    assert message.startswith(f"{name} could not be read as CSV")
    assert "UTF-8 text, comma-separated" in message
    for leak in ("/", "tmp", "sniff", "Error", "duckdb", "DuckDB", "Invalid", ".bin"):
        assert leak not in message


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("detailed", "table"),
    [(True, "billing_export_copy"), (False, "gcp_billing_export_resource_v1_0A1B2C")],
)
def test_gcp_export_variant_is_told_by_its_schema(
    warehouse, scratch_dataset, tmp_path, detailed, table
):
    """A BigQuery billing export's variant comes from its table's schema, not its name: a
    detailed export copied under any name still names each row's resource, a standard one
    named like a detailed export reads as standard; both total to the cent."""
    export = gcp_export_rows(count=60, seed=5, detailed=detailed)
    gcp_export_load(warehouse, scratch_dataset, table, export, tmp_path / "x.json")
    assert source_variant(
        "gcp/cost/focus", [c.name for c in warehouse.table_columns(scratch_dataset, table)]
    ).key == ("gcp-detailed" if detailed else "gcp-standard")
    config = pipeline_config_get("gcp", "cost", "focus")
    source = warehouse.table_ref(scratch_dataset, table)
    context = context_for(warehouse, scratch_dataset, config, source_billing_table=source)
    results = run_pipeline(config, context)
    assert failed_rules(results) == {}
    sums = warehouse.query(
        "SELECT SUM(BilledCost) AS billed, COUNTIF(ResourceId IS NOT NULL) AS named "
        f"FROM {warehouse.quoted(scratch_dataset, 'gcp_cost_focus')}"
    ).rows[0]
    expected = sum(
        decimal.Decimal(str(r["cost"]))
        + sum(decimal.Decimal(str(c["amount"])) for c in r["credits"])
        for r in export
    )
    assert sums["billed"].quantize(CENT) == expected.quantize(CENT)
    assert (sums["named"] > 0) is detailed


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("ddl", "expected"),
    [
        # GCP's pricing export sent as the billing export: no variant's columns.
        (
            "CREATE TABLE `{table}` (billing_account_id STRING, service STRUCT<id STRING, "
            "description STRING>, sku STRUCT<id STRING, description STRING>, "
            "pricing_as_of_time TIMESTAMP, list_price STRUCT<tiered_rates ARRAY<STRUCT<"
            "usd_amount NUMERIC>>>)",
            "does not recognise this file's header. The closest it reads is a GCP standard "
            "usage cost export, which would also have usage_start_time, cost, invoice",
        ),
        # A standard export whose credits column was dropped in a copy.
        (
            GCP_EXPORT_DDL.replace(
                "  credits ARRAY<STRUCT<name STRING, amount FLOAT64, full_name STRING, id STRING,"
                "\n                       type STRING>>,\n",
                "",
            ).replace("{detailed}", ""),
            "is a GCP standard usage cost export but lacks columns it needs: credits.",
        ),
    ],
    ids=["pricing-export", "no-credits"],
)
def test_a_table_of_no_gcp_variant_is_refused_before_normalization(
    warehouse, scratch_dataset, ddl, expected
):
    """A table that is no GCP billing export, or one without a column the normalization
    reads, is refused by focus.normalize before any SQL runs: the closest variant, what it
    lacked, how to enable the export; no FOCUS table is made."""
    table = "not_a_billing_export"
    warehouse.query(ddl.replace("{table}", warehouse.table_ref(scratch_dataset, table)))
    config = pipeline_config_get("gcp", "cost", "focus")
    source = warehouse.table_ref(scratch_dataset, table)
    context = context_for(warehouse, scratch_dataset, config, source_billing_table=source)
    with pytest.raises(StepFailed) as raised:
        run_pipeline(config, context)
    message = str(raised.value)
    assert expected in message and "Cloud Billing export to BigQuery" in message
    assert warehouse.tables_list(scratch_dataset) == [table]


def _camel_bytes(*, bom: bool, crlf: bool, multiline: str, quote_all: bool = False) -> bytes:
    """The camelCase cost-details sample as an export may really arrive: with a UTF-8 BOM,
    CRLF line ends, a quoted field that spans lines (a pretty-printed tags object, its own
    line breaks LF or CRLF: ``multiline``; "" for none), every field quoted."""
    text = (VARIANT_DATA / "azure_cost_details_camel.csv").read_text(encoding="utf-8-sig")
    if quote_all:
        out = io.StringIO()
        csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(
            csv.reader(io.StringIO(text))
        )
        text = out.getvalue()
    if crlf:
        text = text.replace("\n", "\r\n")
    if multiline:
        brk = "\r\n" if multiline == "crlf" else "\n"
        text = text.replace(
            '"{""env"":""prod"",""team"":""web""}"',
            f'"{{{brk}  ""env"": ""prod"",{brk}  ""team"": ""web""{brk}}}"',
            1,
        )
        assert text.splitlines()[1].count('"') % 2 == 1  # the quoted field now spans lines
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("bom", "crlf", "multiline", "quote_all"),
    [
        (True, False, "", False),
        (False, True, "", False),
        (False, False, "lf", False),
        (True, True, "crlf", False),
        (True, True, "lf", False),
        (True, True, "crlf", True),
    ],
    ids=[
        "bom",
        "crlf",
        "quoted-multiline",
        "bom-crlf-multiline",
        "crlf-rows-lf-inside-quotes",
        "all-quoted-bom-crlf-multiline",
    ],
)
def test_camel_case_export_with_bom_crlf_and_multiline_fields_completes(
    warehouse, scratch_dataset, imports_dir, bom, crlf, multiline, quote_all
):
    """The camelCase cost-details export completes through azure/cost/focus with a BOM, CRLF
    line ends, quoted fields spanning lines, every field quoted: every row loaded once,
    SUM(BilledCost) equal to costInBillingCurrency to the cent, the multi-line tags object
    read as tags."""
    path = imports_dir.parent / "camel_export.csv"
    path.write_bytes(_camel_bytes(bom=bom, crlf=crlf, multiline=multiline, quote_all=quote_all))
    results, sums = run_file(warehouse, scratch_dataset, imports_dir, path, "azure")
    assert results["load_export"].rows_processed == 7
    assert sums["n"] == 7
    expected = column_total(VARIANT_DATA / "azure_cost_details_camel.csv", "costInBillingCurrency")
    assert sums["billed"].quantize(CENT) == expected.quantize(CENT)
    assert failed_rules(results) == {}
    table = warehouse.quoted(scratch_dataset, "azure_cost_focus")
    tagged = warehouse.query(
        f"SELECT COUNTIF(JSON_VALUE(Tags, '$.team') = 'web') AS web FROM {table}"
    ).rows[0]
    assert tagged["web"] >= 1


@pytest.mark.django_db
def test_an_export_with_a_header_and_no_rows_fails_its_check_without_server_names(
    warehouse, scratch_dataset, imports_dir
):
    """A camelCase export holding only its header line loads (nothing to load) and fails the
    run's check on its row count, naming the run's table only: no warehouse project or
    dataset in the message."""
    header = (VARIANT_DATA / "azure_cost_details_camel.csv").read_text().splitlines()[0]
    path = imports_dir.parent / "empty_export.csv"
    path.write_text(f"\ufeff{header}\r\n")
    with pytest.raises(StepFailed) as raised:
        run_file(warehouse, scratch_dataset, imports_dir, path, "azure")
    message = str(raised.value)
    assert message == "data-quality checks failed on azure_cost_focus__rrun1: min_rows"
    assert warehouse.project not in message and scratch_dataset not in message


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sample", "account_types", "meters"),
    [
        ("aws_focus_1_0.csv", ["(null)"], 3),
        ("azure_focus_1_0.csv", ["Billing Account"], 3),
        ("oci_focus_1_0.csv", ["(null)"], 0),
    ],
)
def test_native_focus_1_0_billing_account_type_and_sku_meter(
    warehouse, scratch_dataset, imports_dir, sample, account_types, meters
):
    """Microsoft's FOCUS 1.0 export has a BillingAccountType column (AWS's and OCI's have
    none): the native path carries it into 1.2 on every row. AWS's 1.0 export has x_UsageType,
    which AWS's 1.2 export moved into SkuMeter, and Microsoft's has x_SkuMeterName: the three
    rows with a SkuId get it (the tax row has none). OCI's 1.0 report has no meter column:
    SkuMeter stays null."""
    path = VARIANT_DATA / sample
    results, _ = run_file(warehouse, scratch_dataset, imports_dir, path, "focus", "native")
    assert failed_rules(results) == {}
    table = warehouse.quoted(scratch_dataset, "focus_cost_native")
    rows = warehouse.query(
        "SELECT IFNULL(BillingAccountType, '(null)') AS account_type, COUNT(*) AS n, "
        f"COUNTIF(SkuMeter IS NOT NULL) AS meters FROM {table} GROUP BY account_type"
    ).rows
    assert [row["account_type"] for row in rows] == account_types
    assert sum(row["n"] for row in rows) == 4
    assert sum(row["meters"] for row in rows) == meters
    expected = {
        "aws_focus_1_0.csv": ["EU-Request", "USE1-BoxUsage:t3.medium", "USE1-TimedStorage-ByteHrs"],
        "azure_focus_1_0.csv": ["D2s v3", "LRS Data Stored", "Standard Data Transfer Out"],
    }.get(sample, [])
    named = warehouse.query(
        f"SELECT SkuMeter FROM {table} WHERE SkuMeter IS NOT NULL ORDER BY SkuMeter"
    ).rows
    assert [row["SkuMeter"] for row in named] == expected
