"""FOCUS normalization on the emulator: sample exports go file → warehouse → FOCUS, checked."""

import csv
import decimal
import shutil
from pathlib import Path

import pytest

from devtools.commitment_fixtures import (
    aws_commitment_cur,
    azure_commitment_export,
    azure_mca_export,
    expected_totals,
)
from devtools.gcp_export import gcp_export_load, gcp_export_rows
from focus.conformance import allowed_values_sql
from focus.model import ALLOWED_VALUES, FOCUS_COLUMNS, MANDATORY_COLUMNS
from focus.normalize import focus_sql
from pipelines.configs import pipeline_config_get
from pipelines.processors import StepContext, StepFailed, processor_for
from warehouse.files import column_names_from_header, csv_header_columns
from warehouse.tables import DQ_RESULTS

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
    columns = {c.name: c.type for c in warehouse.table_columns(dataset, table)}
    outside = warehouse.query(allowed_values_sql(warehouse.table_ref(dataset, table))).rows[0]
    total = warehouse.query(
        f"SELECT SUM(BilledCost) AS total FROM {warehouse.quoted(dataset, table)}"
    ).rows[0]["total"]
    return {"columns": columns, "outside": outside, "total": total}


@pytest.mark.django_db
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
    # Names and types exactly as the spec writes them (Tags is JSON), on the emulator too.
    assert {c.name: c.type for c in FOCUS_COLUMNS}.items() <= checks["columns"].items()
    assert set(MANDATORY_COLUMNS) <= set(checks["columns"])
    assert {k.lower(): n for k, n in checks["outside"].items()} == {
        c.lower(): 0 for c in ALLOWED_VALUES
    }
    expected = csv_total(DATA / sample, cost_column)
    assert checks["total"].quantize(CENT) == expected.quantize(CENT)
    recorded = warehouse.query(
        f"SELECT check_name, status FROM {warehouse.quoted(scratch_dataset, DQ_RESULTS)}"
    ).rows
    assert {r["check_name"] for r in recorded} >= {
        "min_rows",
        "cost_total",
        "focus:ServiceName-C-005-C",
        "focus:PricingQuantity-C-004-C",
        "focus:ChargePeriod-ordering",
    }
    assert {r["status"] for r in recorded} == {"PASS"}


@pytest.mark.django_db
def test_gcp_export_normalizes_to_focus_with_credit_rows(warehouse, scratch_dataset, tmp_path):
    """Generated GCP export rows normalize; each credit is a Credit row; net totals match."""
    export = gcp_export_rows(count=150, seed=11)
    gcp_export_load(warehouse, scratch_dataset, "billing_export", export, tmp_path / "x.json")
    config = pipeline_config_get("gcp", "cost", "focus")
    source = warehouse.table_ref(scratch_dataset, "billing_export")
    context = context_for(warehouse, scratch_dataset, config, source_billing_table=source)

    run_pipeline(config, context)

    checks = focus_table_checks(warehouse, scratch_dataset, "gcp_cost_focus")
    assert {c.name: c.type for c in FOCUS_COLUMNS}.items() <= checks["columns"].items()
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


@pytest.mark.django_db
def test_gcp_detailed_export_names_each_rows_resource(warehouse, scratch_dataset, tmp_path):
    """GCP's detailed (resource-level) export, told by its schema (``resource``): its
    rows carry ResourceId, ResourceName and the type from the resource's full name; the
    run's FOCUS rules hold and the totals match as for the standard export."""
    export = gcp_export_rows(count=150, seed=11, detailed=True)
    table = "gcp_billing_export_resource_v1_01A2B3_C4D5E6_F7A8B9"
    gcp_export_load(warehouse, scratch_dataset, table, export, tmp_path / "x.json")
    config = pipeline_config_get("gcp", "cost", "focus")
    source = warehouse.table_ref(scratch_dataset, table)
    context = context_for(warehouse, scratch_dataset, config, source_billing_table=source)

    results = run_pipeline(config, context)

    checks = results["check_focus"].details["checks"]
    assert {name: c["passed"] for name, c in checks.items() if not c["passed"]} == {}
    named = [r for r in export if r["resource"]["global_name"]]
    rows = warehouse.query(
        "SELECT ResourceId AS id, ResourceName AS name, ResourceType AS type, "
        "ServiceName AS service, COUNT(*) AS n "
        f"FROM {warehouse.quoted(scratch_dataset, 'gcp_cost_focus')} "
        "WHERE ChargeCategory = 'Usage' AND ResourceId IS NOT NULL GROUP BY 1, 2, 3, 4"
    ).rows
    assert sum(r["n"] for r in rows) == len(named) > 0
    assert {(r["service"], r["type"]) for r in rows} == {
        ("Compute Engine", "compute.googleapis.com/instances"),
        ("Cloud Storage", "storage.googleapis.com/buckets"),
    }
    assert all(r["id"].endswith(r["name"].split("-")[-1]) for r in rows)


def test_gcp_generator_is_deterministic():
    """The same seed gives the same rows; another seed does not."""
    assert gcp_export_rows(count=20, seed=3) == gcp_export_rows(count=20, seed=3)
    assert gcp_export_rows(count=20, seed=3) != gcp_export_rows(count=20, seed=4)


@pytest.mark.django_db
def test_cost_reconciliation_failure_fails_the_step(warehouse, scratch_dataset, imports_dir):
    """A FOCUS table whose total drifts from the source by more than a cent fails DQ."""
    shutil.copy(DATA / "azure_ea_sample.csv", imports_dir / "a.csv")
    config = pipeline_config_get("azure", "cost", "focus")
    context = context_for(warehouse, scratch_dataset, config, {"source_file": "a.csv"})
    load, normalize, check = config.steps[:3]
    processor_for(load).run(context.for_step(load))
    processor_for(normalize).run(context.for_step(normalize))
    staged = context.render("{focus_table}__{run_tag}")  # the run's checked FOCUS rows
    warehouse.query(
        f"UPDATE {warehouse.quoted(scratch_dataset, staged)} "
        "SET BilledCost = BilledCost + 1 WHERE TRUE"
    )
    with pytest.raises(StepFailed, match="cost_total"):
        processor_for(check).run(context.for_step(check))
    warehouse.query(
        f"UPDATE {warehouse.quoted(scratch_dataset, staged)} "
        "SET BilledCost = BilledCost - 1, EffectiveCost = EffectiveCost + 1 WHERE TRUE"
    )
    with pytest.raises(StepFailed, match=r"failed on .*: amortized_total$"):
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
    from focus.model import FocusSourceError

    with pytest.raises(FocusSourceError, match="lineItem/UnblendedCost"):
        focus_sql("aws", source="p-roject.d.s", destination="p-roject.d.t", source_columns=["a"])


@pytest.mark.django_db
def test_aws_sample_defects_are_fixed_and_account_names_come_from_provider_config(
    warehouse, scratch_dataset, imports_dir, tmp_path
):
    """Tax rows carry no pricing, a service has one category, AWS issues its own invoices,
    regions are named, units are FOCUS units; account names come from the provider config;
    the table exports to Parquet with its FOCUS names and types."""
    import pyarrow.parquet as pq
    from django.core.management import call_command

    from focus.units import UNIT_FORMAT
    from tenants.models import ProviderConfig
    from tenants.tests.factories import TenantFactory

    tenant = TenantFactory(id="acme")
    ProviderConfig.objects.create(
        tenant=tenant, provider="aws", settings={"account_name:123412340534": "Acme Payer"}
    )
    shutil.copy(DATA / "aws_cur_sample.csv", imports_dir / "cur.csv")
    config = pipeline_config_get("aws", "cost", "focus")
    context = context_for(warehouse, scratch_dataset, config, {"source_file": "cur.csv"})
    run_pipeline(config, context)
    table = warehouse.quoted(scratch_dataset, "aws_cost_focus")

    def one(sql: str) -> dict:
        return warehouse.query(sql.replace("FROM T", f"FROM {table}", 1)).rows[0]

    tax = one(
        "SELECT COUNT(*) AS n, COUNTIF(PricingQuantity IS NOT NULL OR PricingUnit IS NOT NULL "
        "OR SkuId IS NOT NULL OR ListUnitPrice IS NOT NULL) AS priced FROM T "
        "WHERE ChargeCategory = 'Tax'"
    )
    assert tax == {"n": 12, "priced": 0}
    assert one(
        "SELECT COUNT(*) AS n FROM (SELECT ServiceName FROM T GROUP BY ServiceName "
        "HAVING COUNT(DISTINCT ServiceCategory) > 1 OR COUNT(DISTINCT ServiceSubcategory) > 1)"
    ) == {"n": 0}
    parties = one(
        "SELECT COUNTIF(ProviderName <> InvoiceIssuerName) AS third_party, "
        "COUNTIF(RegionId IS NOT NULL AND RegionName IS NULL) AS unnamed_regions, "
        "COUNTIF(ResourceId IS NULL AND ResourceType IS NOT NULL) AS typed_without_id, "
        "COUNTIF(BillingAccountName <> 'Acme Payer') AS unnamed_payer, "
        "COUNTIF(SubAccountName <> 'Acme Payer') AS unnamed_sub, "
        "COUNTIF(BillingAccountType IS DISTINCT FROM 'Payer Account') AS payer_type, "
        "COUNTIF(SubAccountType IS DISTINCT FROM 'Usage Account') AS usage_type FROM T"
    )
    assert parties == dict.fromkeys(parties, 0)
    units = warehouse.query(f"SELECT DISTINCT PricingUnit AS u FROM {table}").rows
    assert {r["u"] for r in units if r["u"]} and all(
        UNIT_FORMAT.match(r["u"]) for r in units if r["u"]
    )

    output = tmp_path / "aws.parquet"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            "pipelines.services.focus_export.tenant_dataset_id", lambda _: scratch_dataset
        )
        call_command("focus_export", "acme", "aws_cost_focus", str(output))
    exported = pq.read_table(output)
    assert exported.num_rows == 1281
    types = {f.name: str(f.type) for f in exported.schema}
    assert types["BilledCost"] == "double" and types["Tags"] == "string"
    assert set(MANDATORY_COLUMNS) <= set(types)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("provider", "build"),
    [("aws", aws_commitment_cur), ("azure", azure_commitment_export)],
)
def test_commitment_discounts_reconcile_billed_and_amortized_totals(
    warehouse, scratch_dataset, imports_dir, provider, build
):
    """Reservations and savings plans: used, unused and purchase rows; BilledCost sums to
    the invoice total and EffectiveCost to the amortized total, to the cent."""
    source = build(imports_dir / f"{provider}_commitments.csv")
    billed, amortized = expected_totals(provider, source)
    config = pipeline_config_get(provider, "cost", "focus")
    context = context_for(warehouse, scratch_dataset, config, {"source_file": source.name})

    results = run_pipeline(config, context)

    # The run's own checks reconcile both totals against the raw export, too.
    checks = results["check_focus"].details["checks"]
    assert checks["cost_total"]["passed"] and checks["amortized_total"]["passed"]
    source_amortized = decimal.Decimal(checks["amortized_total"]["expected"].split()[0])
    assert source_amortized.quantize(CENT) == amortized.quantize(CENT)
    table = warehouse.quoted(scratch_dataset, config.variables["focus_table"])
    totals = warehouse.query(
        f"SELECT SUM(BilledCost) AS billed, SUM(EffectiveCost) AS effective FROM {table}"
    ).rows[0]
    assert totals["billed"].quantize(CENT) == billed.quantize(CENT)
    assert totals["effective"].quantize(CENT) == amortized.quantize(CENT)
    assert billed.quantize(CENT) != amortized.quantize(CENT)  # the fixture tells them apart
    kinds = warehouse.query(
        f"SELECT ChargeCategory AS category, CommitmentDiscountStatus AS status, "
        f"CommitmentDiscountCategory AS cd_category, COUNT(*) AS n, "
        f"COUNTIF(EffectiveCost <> 0) AS effective_nonzero FROM {table} "
        "WHERE CommitmentDiscountId IS NOT NULL GROUP BY 1, 2, 3"
    ).rows
    found = {(k["category"], k["status"], k["cd_category"]): k for k in kinds}
    for cd_category in ("Usage", "Spend"):
        assert found[("Usage", "Used", cd_category)]["n"] > 0
        assert found[("Usage", "Unused", cd_category)]["n"] == 1
        # A commitment purchase covers future charges: its EffectiveCost is 0.
        assert found[("Purchase", None, cd_category)]["effective_nonzero"] == 0


@pytest.mark.django_db
def test_native_focus_1_0_file_is_upgraded_to_1_2(warehouse, scratch_dataset, imports_dir):
    """The FinOps Foundation's FOCUS 1.0 sample loads through the native path: 1.2 columns
    are added (subcategory under the file's own category, pricing currency, commitment
    quantity), values are upgraded, and BilledCost still sums to the file's total."""
    from focus.catalog import SUBCATEGORIES

    shutil.copy(DATA / "focus_1_0_sample.csv", imports_dir / "focus.csv")
    config = pipeline_config_get("focus", "cost", "native")
    context = context_for(warehouse, scratch_dataset, config, {"source_file": "focus.csv"})

    results = run_pipeline(config, context)

    assert results["normalize_focus"].rows_processed == 1000
    table = warehouse.quoted(scratch_dataset, "focus_cost_native")
    checks = focus_table_checks(warehouse, scratch_dataset, "focus_cost_native")
    assert {c.name: c.type for c in FOCUS_COLUMNS}.items() <= checks["columns"].items()
    assert checks["total"].quantize(CENT) == csv_total(
        DATA / "focus_1_0_sample.csv", "BilledCost"
    ).quantize(CENT)
    pairs = warehouse.query(
        f"SELECT DISTINCT ServiceCategory AS c, ServiceSubcategory AS s FROM {table}"
    ).rows
    assert all(SUBCATEGORIES[p["s"]] == p["c"] for p in pairs)
    upgraded = warehouse.query(
        "SELECT COUNTIF(x_SourceFocusVersion <> '1.0') AS version, "
        "COUNTIF(ChargeFrequency = 'Usage-based') AS lowercase_frequency, "
        "COUNTIF(PricingCurrency IS DISTINCT FROM BillingCurrency) AS currency, "
        "COUNTIF(CommitmentDiscountId IS NOT NULL AND CommitmentDiscountQuantity IS NULL) "
        "AS cd_quantity, COUNTIF(ChargeClass = 'NULL' OR ChargeClass = '') AS null_text "
        f"FROM {table}"
    ).rows[0]
    assert upgraded == dict.fromkeys(upgraded, 0)
    # The sample's own defect (one ServiceName under two categories) is recorded as a failed
    # FOCUS rule for the run, without failing it.
    checks = results["check_focus"].details["checks"]
    assert checks["focus:ServiceName-C-005-C"] == {
        "passed": False,
        "observed": "1",
        "expected": "0",
        "message": "ServiceName MUST have one and only one ServiceCategory.",
    }
    assert checks["focus:ChargeFrequency-allowed-values"]["passed"] is True


@pytest.mark.django_db
def test_cur_2_0_export_with_snake_case_columns_normalizes(warehouse, scratch_dataset, imports_dir):
    """An AWS Data Exports CUR 2.0 file (``line_item_unblended_cost``...) goes through the
    same pipeline: every CUR 1.0 column is found under its CUR 2.0 name."""
    from focus.sql import cur2_name
    from warehouse.files import column_names_from_header

    with (DATA / "aws_cur_sample.csv").open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    rows[0] = [cur2_name(name) for name in column_names_from_header(rows[0])]
    assert "line_item_unblended_cost" in rows[0] and "product_region_code" in rows[0]
    with (imports_dir / "cur2.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    config = pipeline_config_get("aws", "cost", "focus")
    context = context_for(warehouse, scratch_dataset, config, {"source_file": "cur2.csv"})

    results = run_pipeline(config, context)

    assert results["normalize_focus"].rows_processed == 1281
    assert results["check_focus"].details["checks"]["cost_total"]["passed"] is True
    filled = warehouse.query(
        "SELECT COUNTIF(RegionId IS NOT NULL) AS regions, COUNTIF(SkuId IS NOT NULL) AS skus, "
        "COUNTIF(ListUnitPrice IS NOT NULL) AS prices "
        f"FROM {warehouse.quoted(scratch_dataset, 'aws_cost_focus')}"
    ).rows[0]
    assert filled == {"regions": 1255, "skus": 1269, "prices": 1269}  # as from CUR 1.0


@pytest.mark.django_db
def test_azure_mca_export_with_camel_case_columns_normalizes(
    warehouse, scratch_dataset, imports_dir
):
    """A Microsoft Customer Agreement export (``costInBillingCurrency``, ``billingCurrency``,
    ``invoiceId``...) goes through the Azure pipeline: every column is found under its MCA
    name, InvoiceId is filled, and both totals match the same rows' EA-named fixture."""
    source = azure_mca_export(imports_dir / "mca.csv")
    billed, amortized = expected_totals("azure", azure_commitment_export(imports_dir / "ea.csv"))
    config = pipeline_config_get("azure", "cost", "focus")
    context = context_for(warehouse, scratch_dataset, config, {"source_file": source.name})

    results = run_pipeline(config, context)

    checks = results["check_focus"].details["checks"]
    assert checks["cost_total"]["passed"] and checks["amortized_total"]["passed"]
    table = warehouse.quoted(scratch_dataset, config.variables["focus_table"])
    found = warehouse.query(
        "SELECT COUNT(*) AS n, SUM(BilledCost) AS billed, SUM(EffectiveCost) AS effective, "
        "COUNTIF(InvoiceId IS NULL) AS uninvoiced, COUNTIF(BillingCurrency <> 'CAD') AS currency, "
        "COUNTIF(SkuPriceId IS NULL AND ChargeCategory = 'Usage') AS unpriced, "
        "COUNTIF(x_ResourceGroup IS NULL) AS no_group, "
        "COUNTIF(BillingAccountType <> 'Billing Account') AS account_type, "
        "COUNTIF(SubAccountType <> 'Subscription') AS sub_account_type "
        f"FROM {table}"
    ).rows[0]
    assert found["n"] == 31
    assert found["billed"].quantize(CENT) == billed.quantize(CENT)
    assert found["effective"].quantize(CENT) == amortized.quantize(CENT)
    assert {k: v for k, v in found.items() if k not in ("n", "billed", "effective")} == {
        "uninvoiced": 0,
        "currency": 0,
        "unpriced": 0,
        "no_group": 0,
        "account_type": 0,
        "sub_account_type": 0,
    }


def test_dq_checks_read_the_focus_table_in_one_query_and_the_source_in_one():
    """dq.check's table checks are aggregates of one SELECT over the table, its totals one
    SELECT over the raw source; both valid BigQuery."""
    import sqlglot
    from sqlglot import exp

    from focus.normalize import source_amortized_total_expr, source_total_expr
    from focus.sql import source_totals_sql
    from pipelines.processors.dq_check import table_checks_sql

    sql = table_checks_sql(
        "convergence-test.d.focus",
        not_null=["BilledCost", "ServiceCategory"],
        allowed_values=True,
        totals={"cost_total": "BilledCost", "amortized_total": "EffectiveCost"},
        conformance=True,
    )
    tree = sqlglot.parse_one(sql, read="bigquery")
    assert isinstance(tree, exp.Select)
    assert tree.args["from_"].this.sql(dialect="bigquery") == "`convergence-test.d.focus`"
    assert {"row_count", "null_0", "null_1", "allowed_ChargeCategory", "observed_cost_total"} <= {
        e.alias for e in tree.expressions
    }
    source = source_totals_sql(
        "convergence-test.d.raw",
        {
            "cost_total": source_total_expr("aws"),
            "amortized_total": source_amortized_total_expr("aws"),
        },
    )
    tables = {
        t.sql(dialect="bigquery")
        for t in sqlglot.parse_one(source, read="bigquery").find_all(exp.Table)
    }
    assert tables == {"`convergence-test.d.raw`"}
