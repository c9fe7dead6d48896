"""Write the FOCUS outputs the validator runs in docs/focus.md use, one Parquet file each.

Usage, from the project root:

    .venv/bin/python scripts/focus_outputs.py OUTPUT_DIR

A fresh ephemeral bqemulator on a free port, a throwaway SQLite control plane; then each
input through its pipeline's success-path steps (``file.load`` → ``focus.normalize`` →
``dq.check`` → ``focus.replace_periods`` → ``focus.anomalies``, as the tests run them) and
its FOCUS table exported with ``focus_table_export`` (what ``manage.py focus_export``
calls), names as stored:

- ``aws.parquet``: the AWS CUR 1.0 sample; ``aws_cur2.parquet``: the same rows with CUR 2.0
  (Data Exports) snake_case column names (CSV); ``aws_cur2_parquet.parquet``: the commitment
  fixture as a CUR 2.0 Parquet export (``devtools/cur2_export.py``: typed columns, maps);
- ``azure.parquet``: the Azure EA sample; ``azure_mca.parquet``: the Azure commitment
  fixture under a Microsoft Customer Agreement export's column names;
- ``aws_commitments.parquet``, ``azure_commitments.parquet``: the commitment-discount
  fixtures (``devtools/commitment_fixtures.py``);
- ``focus_1_0.parquet``: the FinOps Foundation's FOCUS 1.0 sample through the native path;
- ``gcp.parquet``: 150 generated rows of a GCP detailed export (``devtools/gcp_export.py``);
  ``gcp_standard.parquet``: 150 of a standard export;
- one file per export variant sample (``pipelines/tests/data/variants/``, README "Export
  variants"): ``azure_ea_cost_actual``, ``azure_ea_cost_amortized``, ``azure_ea_iso_dates``,
  ``azure_cost_details_camel``, ``aws_cur_athena``, ``aws_focus_1_0``, ``azure_focus_1_0``,
  ``oci_focus_1_0``; and the OCI cost reports through the ``oci`` mapping, ``oci`` (all
  optional columns) and ``oci_basic`` (none of them).

Then run ``focus-validate OUTPUT_DIR/aws.parquet`` etc. (the FinOps Foundation's validator),
plain and with ``--applicability-criteria`` the output's source supports (``CRITERIA`` below;
the script prints both commands for every output it wrote).
"""

from __future__ import annotations

import csv
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / "pipelines" / "tests" / "data"
PROJECT = "convergence-focus"

# The validator's applicability criteria each output's source supports (docs/focus.md,
# "Validator runs"). Not listed anywhere: VIRTUAL_CURRENCY_SUPPORTED (no provider here prices
# in a virtual currency) and MULTIPLE_SUB_ACCOUNT_TYPES_SUPPORTED (one kind of sub account each).
AWS_CRITERIA = (
    "ACCOUNT_NAMING_SUPPORTED",
    "AVAILABILITY_ZONE_SUPPORTED",
    "BILLING_BASED_ON_PROVISIONED_RESOURCES_SUPPORTED",
    "CAPACITY_RESERVATION_SUPPORTED",
    "COMMITMENT_DISCOUNT_SUPPORTED",
    "MULTIPLE_PRICING_CATEGORIES_SUPPORTED",
    "NEGOTIATED_PRICING_SUPPORTED",
    "PRICING_BILLING_CURRENCY_DIFFERENCES_SUPPORTED",
    "PUBLIC_PRICE_LIST_SUPPORTED",
    "REGION_SUPPORTED",
    "RESOURCE_TYPE_ASSIGNMENT_SUPPORTED",
    "SUB_ACCOUNT_SUPPORTED",
    "TAGGING_SUPPORTED",
    "UNIT_PRICING_SUPPORTED",
    "USAGE_MEASUREMENT_SUPPORTED",
)
# Microsoft bills through several kinds of billing account (EA enrollments, MCA billing
# accounts and profiles); its FOCUS 1.0 export has a BillingAccountType column.
AZURE_CRITERIA = (*AWS_CRITERIA, "MULTIPLE_BILLING_ACCOUNT_TYPES_SUPPORTED")
# OCI's cost report (the ``oci`` mapping) names no tenancy.
OCI_REPORT_CRITERIA = tuple(c for c in AWS_CRITERIA if c != "ACCOUNT_NAMING_SUPPORTED")
CRITERIA = {
    **dict.fromkeys(
        ("aws", "aws_cur2", "aws_cur2_parquet", "aws_commitments", "aws_cur_athena"),
        AWS_CRITERIA,
    ),
    **dict.fromkeys(
        (
            "azure",
            "azure_mca",
            "azure_commitments",
            "azure_ea_cost_actual",
            "azure_ea_cost_amortized",
            "azure_ea_iso_dates",
            "azure_cost_details_camel",
        ),
        AZURE_CRITERIA,
    ),
    # GCP is run with AWS's list (docs/focus.md).
    "gcp": AWS_CRITERIA,
    "gcp_standard": AWS_CRITERIA,
    "oci": OCI_REPORT_CRITERIA,
    "oci_basic": OCI_REPORT_CRITERIA,
    # Native FOCUS 1.0 files: the criteria of the provider that wrote them. The validator has
    # no criterion for SkuMeter alone: SkuMeter-C-000-C applies under PUBLIC_PRICE_LIST_SUPPORTED
    # or UNIT_PRICING_SUPPORTED, which also govern ListUnitPrice, SkuId and SkuPriceId (all in a
    # 1.0 file), so both stay listed. AWS's and Azure's 1.0 files give SkuMeter (x_UsageType,
    # x_SkuMeterName); OCI's has no column documented as the meter, so SkuMeter-C-005-C (a
    # SHOULD) is reported as failed for it (docs/focus.md, "Native FOCUS 1.0").
    "aws_focus_1_0": AWS_CRITERIA,
    "azure_focus_1_0": AZURE_CRITERIA,
    "oci_focus_1_0": AWS_CRITERIA,
    # The FinOps Foundation's sample: AWS's list, as for GCP.
    "focus_1_0": AWS_CRITERIA,
}


def django_setup(var_dir: Path, imports: Path, endpoint: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convergence.settings.test")
    os.environ["CONVERGENCE_VAR_DIR"] = str(var_dir)
    os.environ["DATABASE_URL"] = f"sqlite:///{var_dir / 'focus.sqlite3'}"
    os.environ["KMS_BACKEND"] = "local"
    os.environ["KMS_LOCAL_KEYRING_PATH"] = str(var_dir / "keyring.json")
    os.environ["PIPELINE_LOCAL_FILES_DIR"] = str(imports.parent)
    os.environ["WAREHOUSE_ENDPOINT"] = endpoint
    os.environ["WAREHOUSE_PROJECT"] = PROJECT
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def cur2_copy(target: Path) -> Path:
    """The CUR 1.0 sample with its columns named as a CUR 2.0 (Data Exports) file names them."""
    from focus.sql import cur2_name
    from warehouse.files import column_names_from_header

    with (DATA / "aws_cur_sample.csv").open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    rows[0] = [cur2_name(name) for name in column_names_from_header(rows[0])]
    with target.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    return target


def outputs_write(output_dir: Path, imports: Path) -> None:
    from devtools.commitment_fixtures import (
        aws_commitment_cur,
        azure_commitment_export,
        azure_mca_export,
    )
    from devtools.cur2_export import cur2_parquet
    from devtools.gcp_export import gcp_export_load, gcp_export_rows
    from mappings.selectors import mapped_pipeline_config
    from pipelines.configs import pipeline_config_get
    from pipelines.processors import StepContext, processor_for
    from pipelines.services.focus_export import focus_table_export
    from warehouse.bigquery import get_warehouse

    warehouse = get_warehouse()
    inputs = {
        "aws": ("aws", "focus", shutil.copy(DATA / "aws_cur_sample.csv", imports / "aws.csv")),
        "aws_cur2": ("aws", "focus", cur2_copy(imports / "aws_cur2.csv")),
        "azure": ("azure", "focus", shutil.copy(DATA / "azure_ea_sample.csv", imports / "az.csv")),
        "azure_mca": ("azure", "focus", azure_mca_export(imports / "az_mca.csv")),
        "aws_commitments": ("aws", "focus", aws_commitment_cur(imports / "aws_cd.csv")),
        "azure_commitments": ("azure", "focus", azure_commitment_export(imports / "az_cd.csv")),
        "focus_1_0": (
            "focus",
            "native",
            shutil.copy(DATA / "focus_1_0_sample.csv", imports / "focus.csv"),
        ),
    }
    variants = DATA / "variants"
    for name, provider, pipeline in (
        ("azure_ea_cost_actual", "azure", "focus"),
        ("azure_ea_cost_amortized", "azure", "focus"),
        ("azure_ea_iso_dates", "azure", "focus"),
        ("azure_cost_details_camel", "azure", "focus"),
        ("aws_cur_athena", "aws", "focus"),
        ("aws_focus_1_0", "focus", "native"),
        ("azure_focus_1_0", "focus", "native"),
        ("oci_focus_1_0", "focus", "native"),
    ):
        inputs[name] = (provider, pipeline, shutil.copy(variants / f"{name}.csv", imports))
    mapped = ROOT / "mappings" / "tests" / "data"
    inputs["oci"] = ("oci", "mapping", shutil.copy(mapped / "oci_cost_report_sample.csv", imports))
    inputs["oci_basic"] = (
        "oci",
        "mapping",
        shutil.copy(mapped / "oci_cost_report_basic.csv", imports),
    )
    inputs["aws_cur2_parquet"] = (
        "aws",
        "focus",
        cur2_parquet(
            aws_commitment_cur(imports.parent / "cur1_commitments.csv"),
            imports / "aws_cur2.parquet",
        ),
    )
    # Each GCP export sits in its run's own dataset (a run reads only its tenant's dataset);
    # the variant (standard or detailed) comes from the table's schema, not its name.
    gcp_tables = {
        "gcp": ("gcp_billing_export_resource_v1_01A2B3_C4D5E6_F7A8B9", True),
        "gcp_standard": ("billing_export_standard", False),
    }
    for name, (gcp_table, detailed) in gcp_tables.items():
        warehouse.dataset_create(f"focus_{name}")
        gcp_rows = gcp_export_rows(count=150, seed=11, detailed=detailed)
        path = imports / f"{name}.json"
        gcp_export_load(warehouse, f"focus_{name}", gcp_table, gcp_rows, path)
        inputs[name] = ("gcp", "focus", None)
    for name, (provider, pipeline, source) in inputs.items():
        dataset = f"focus_{name}"
        if provider != "gcp":
            warehouse.dataset_create(dataset)
        if pipeline == "mapping":
            config = mapped_pipeline_config(
                tenant_id=imports.name, provider=provider, domain="cost", pipeline="focus"
            )
        else:
            config = pipeline_config_get(provider, "cost", pipeline)
        context = StepContext(
            warehouse=warehouse,
            tenant_id=imports.name,
            dataset_id=dataset,
            params=config.typed_parameters(
                config.resolve_parameters(
                    {"source_file": Path(source).name} if source else {}, tenant_id=imports.name
                )
            ),
            variables=dict(
                config.variables,
                **(
                    {"source_billing_table": warehouse.table_ref(dataset, gcp_tables[name][0])}
                    if provider == "gcp"
                    else {}
                ),
            ),
            run_id=f"focus-{name}",
        )
        failed, totals = [], []
        for step in config.steps:
            if step.runs_on == "success":
                result = processor_for(step).run(context.for_step(step))
                checks = (result.details or {}).get("checks", {})
                failed += [k for k, v in checks.items() if not v.get("passed", True)]
                totals += [
                    f"{k} {checks[k]['observed']} (source {checks[k]['expected']})"
                    for k in ("cost_total", "amortized_total")
                    if k in checks
                ]
        path = output_dir / f"{name}.parquet"
        rows, columns = focus_table_export(
            warehouse=warehouse,
            tenant_id=imports.name,
            table=config.variables["focus_table"],
            path=path,
            dataset_id=dataset,
        )
        print(
            f"{path}: {rows} rows, {len(columns)} columns; {'; '.join(totals)}; "
            f"failed run checks: {failed or 'none'}"
        )
    print("\nValidator runs (plain, then with the criteria the source supports):")
    for name in inputs:
        path = output_dir / f"{name}.parquet"
        print(f"focus-validate {path}")
        print(f"focus-validate {path} --applicability-criteria {','.join(CRITERIA[name])}")


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    output_dir = Path(sys.argv[1]).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    from devtools.emulator import emulator_start, emulator_wait, free_port

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "var").mkdir()
        imports = work / "imports" / "acme"
        imports.mkdir(parents=True)
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}"
        process = emulator_start(
            project=PROJECT, rest_port=port, log_path=work / "emulator.log", die_with_parent=True
        )
        try:
            emulator_wait(endpoint, process=process)
            django_setup(work / "var", imports, endpoint)
            outputs_write(output_dir, imports)
        finally:
            process.terminate()
            process.wait(timeout=15)


if __name__ == "__main__":
    main()
