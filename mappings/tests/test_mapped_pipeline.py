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
ROOT_DATA = Path(__file__).resolve().parents[2] / "pipelines" / "tests" / "data"
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
        # A report without product/resource and the other optional columns.
        ("oci", "oci_cost_report_basic.csv", "cost/myCost", 4),
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


@pytest.mark.django_db
def test_preview_and_run_break_the_same_focus_rules(onboard, warehouse):
    """A mapping whose ResourceType ignores ResourceId (the oci mapping before its fix): the
    dry run and a run of the same rows report the same broken FOCUS rules, from one rule set,
    and the run records them in its answer."""
    from mappings.format import mapping_parse
    from mappings.services import mapping_preview
    from mappings.shipped import shipped_root
    from pipelines.processors import StepContext

    tenant = onboard("same_rules_co").tenant
    text = (shipped_root() / "oci.yml").read_text()
    fixed = (
        "ResourceType: if_set(product_resourceId, "
        "coalesce(product_resource, lookup(resource_type, product_service)))"
    )
    assert fixed in text
    broken_text = text.replace("name: oci", "name: oci_mine").replace(
        fixed, "ResourceType: coalesce(product_resource, lookup(resource_type, product_service))"
    )
    spec = mapping_parse(broken_text, file="oci_mine.yml")
    sample = (DATA / "oci_cost_report_basic.csv").read_text()
    preview = mapping_preview(tenant_id=tenant.id, spec=spec, sample=sample, rows=20)
    previewed = {r["rule"]: r["rows"] for r in preview.broken_rules}
    assert previewed == {"ResourceType-C-004-C": 1}  # the NETWORK row has no resourceId

    from mappings.services import mapping_create
    from tenants.services.audit import Actor

    mapping_create(tenant=tenant, name="oci_mine", definition=broken_text, actor=Actor.system("t"))
    config = mapped_pipeline_config(
        tenant_id=tenant.id, provider="oci_mine", domain="cost", pipeline="focus"
    )
    imports = Path(warehouse_imports(tenant.id))
    shutil.copy(DATA / "oci_cost_report_basic.csv", imports / "basic.csv")
    context = StepContext(
        warehouse=warehouse,
        tenant_id=tenant.id,
        dataset_id=f"{tenant.id}_local",
        params=config.typed_parameters(
            config.resolve_parameters({"source_file": "basic.csv"}, tenant_id=tenant.id)
        ),
        variables=dict(config.variables),
        run_id="run-same-rules",
    )
    results = run_pipeline(config, context)
    checks = results["check_focus"].details["checks"]
    ran = {
        name.removeprefix("focus:"): int(c["observed"])
        for name, c in checks.items()
        if name.startswith("focus:") and not c["passed"]
    }
    assert ran == previewed


def warehouse_imports(tenant_id: str) -> str:
    from warehouse.files import tenant_files_root

    root = tenant_files_root(tenant_id)
    root.mkdir(parents=True, exist_ok=True)
    return str(root)


@pytest.mark.django_db
def test_a_focus_report_sent_to_the_oci_mapping_is_refused_naming_the_native_pipeline(
    warehouse, scratch_dataset, imports_dir
):
    """OCI's FOCUS report is not a cost report: the map step refuses it before writing,
    saying to run focus/cost/native with it."""
    from pipelines.processors import StepFailed

    sample = ROOT_DATA / "variants" / "oci_focus_1_0.csv"
    shutil.copy(sample, imports_dir / sample.name)
    config = mapped_pipeline_config(
        tenant_id="acme", provider="oci", domain="cost", pipeline="focus"
    )
    context = context_for(warehouse, scratch_dataset, config, {"source_file": sample.name})
    with pytest.raises(StepFailed, match="an OCI FOCUS report, which focus/cost/native reads"):
        run_pipeline(config, context)
    assert "oci_cost_focus" not in warehouse.tables_list(scratch_dataset)
