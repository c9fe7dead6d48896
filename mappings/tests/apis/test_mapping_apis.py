"""The mappings API end to end: a tenant writes an OCI mapping, previews it on its cost
report, runs it, and gets a FOCUS table that matches the file and passes FOCUS's checks."""

import decimal
import shutil
import time
from pathlib import Path

import pytest

from mappings.models import FocusMapping
from pipelines.models import PipelineRun, RunStatus
from pipelines.tests.test_focus import csv_total
from tenants.tests.conftest import key_client

DATA = Path(__file__).parents[1] / "data"
OCI_SAMPLE = DATA / "oci_cost_report_sample.csv"
OCI_YAML = (Path(__file__).parents[2] / "library" / "oci.yml").read_text()
CENT = decimal.Decimal("0.01")


def my_oci() -> str:
    return OCI_YAML.replace("name: oci\n", "name: my_oci\n")


@pytest.fixture
def imports(settings, tmp_path):
    settings.PIPELINE_LOCAL_FILES_DIR = str(tmp_path)
    return tmp_path


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_tenant_maps_an_oci_cost_report_to_focus_through_the_api(
    celery_worker, onboard, warehouse, imports
):
    """Create → preview → run → a FOCUS table whose BilledCost total is the file's to the
    cent, every FOCUS check passing; nothing but the API is used by the tenant."""
    onboarded = onboard("oci_co", plan="PROFESSIONAL")
    client = key_client(onboarded.api_key)
    (imports / "oci_co").mkdir()
    shutil.copy(OCI_SAMPLE, imports / "oci_co" / "oci_cost.csv")

    # Before the mapping exists the provider is unknown: a clear 404, no run.
    refused = client.post(
        "/api/v1/pipelines/run/oci_co/my_oci/cost/focus",
        {"source_file": "oci_cost.csv"},
        format="json",
    )
    assert refused.status_code == 404
    assert "neither a built-in provider nor a FOCUS mapping" in refused.json()["detail"]

    created = client.post(
        "/api/v1/tenants/oci_co/mappings", {"name": "my_oci", "definition": my_oci()}, format="json"
    )
    assert created.status_code == 201, created.content
    mapping_id = created.json()["id"]
    assert created.json()["run_path"] == "my_oci/cost/focus"

    preview = client.post(
        f"/api/v1/tenants/oci_co/mappings/{mapping_id}/preview",
        {"source_file": "oci_cost.csv", "rows": 5},
        format="json",
    )
    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert body["rows_read"] == 5
    assert len(body["focus_rows"]) == 5
    assert body["empty_required_columns"] == []
    assert body["broken_rules"] == []
    first = {r["x_ReferenceNo"]: r for r in body["focus_rows"]}["00000001-oci-00-0"]
    # 2023-11-13T00:00Z (no seconds) parsed; the billing period is the calendar month.
    assert first["ChargePeriodStart"].startswith("2023-11-13T00:00:00")
    assert first["BillingPeriodStart"].startswith("2023-11-01T00:00:00")
    assert first["ServiceCategory"] == "Compute"
    assert decimal.Decimal(first["BilledCost"]) == decimal.Decimal("0.783")
    # The preview keeps nothing in the tenant's dataset.
    assert not [t for t in warehouse.tables_list(onboarded.dataset_id) if "preview" in t]

    # A provider config and credential for the mapping's provider are accepted now.
    config = client.post(
        "/api/v1/tenants/oci_co/provider-configs",
        {"provider": "my_oci", "notification_emails": ["finops@oci-co.example.com"]},
        format="json",
    )
    assert config.status_code == 201, config.content

    started = client.post(
        "/api/v1/pipelines/run/oci_co/my_oci/cost/focus",
        {"source_file": "oci_cost.csv", "date": "2023-11-13"},
        format="json",
    )
    assert started.status_code == 202, started.content
    run_id = started.json()["run_id"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        run = client.get(f"/api/v1/pipelines/runs/{run_id}").json()
        if run["status"] in {"COMPLETED", "FAILED"}:
            break
        time.sleep(0.3)
    assert run["status"] == "COMPLETED", run
    steps = {s["step_id"]: s for s in run["steps"]}
    assert steps["map_focus"]["rows_processed"] == 33
    checks = {c["name"]: c for c in steps["check_focus"]["checks"]}
    assert all(c["passed"] for c in checks.values()), [
        n for n, c in checks.items() if not c["passed"]
    ]
    assert {"cost_total", "focus:ChargePeriod-ordering", "focus:ServiceName-C-005-C"} <= set(checks)
    total = csv_total(OCI_SAMPLE, "cost/myCost")
    assert decimal.Decimal(checks["cost_total"]["observed"]).quantize(CENT) == total.quantize(CENT)
    assert checks["cost_total"]["expected"].startswith(str(total))
    # The FOCUS table is the mapping's own; its raw table was the run's staging
    # (my_oci_mapped_raw__r<run id>), dropped when the run ended.
    focus = warehouse.quoted(onboarded.dataset_id, "my_oci_cost_focus")
    billed = warehouse.query(f"SELECT SUM(BilledCost) AS t FROM {focus}").rows[0]["t"]
    assert billed.quantize(CENT) == total.quantize(CENT)
    assert not [t for t in warehouse.tables_list(onboarded.dataset_id) if "mapped_raw" in t]
    replaced = {s["step_id"]: s for s in PipelineRun.objects.get(pk=run_id).steps.values()}
    assert replaced["replace_periods"]["details"]["table"] == "my_oci_cost_focus"
    assert PipelineRun.objects.get(pk=run_id).status == RunStatus.COMPLETED


@pytest.fixture
def tenant(onboard):
    return onboard("map_co", plan="PROFESSIONAL")


@pytest.fixture
def client(tenant):
    return key_client(tenant.api_key)


@pytest.mark.parametrize(
    ("column", "expression", "fragment"),
    [
        ("BilledCost", "shell(cost_myCost)", "unknown function 'shell'"),
        ("ChargeDescription", "other_tenant.raw.cost_myCost", "names another table"),
        ("BilledCost", None, "missing: FOCUS 1.2 requires this column"),
    ],
)
def test_an_invalid_mapping_is_refused_naming_file_column_and_expression(
    client, column, expression, fragment
):
    """400 with each issue's file, column and expression; nothing stored."""
    lines = [
        line
        for line in my_oci().splitlines()
        if not (expression is None and line.startswith(f"  {column}:"))
    ]
    text = "\n".join(
        f"  {column}: {expression}" if line.startswith(f"  {column}:") else line for line in lines
    )
    answer = client.post(
        "/api/v1/tenants/map_co/mappings", {"name": "my_oci", "definition": text}, format="json"
    )
    assert answer.status_code == 400
    body = answer.json()
    assert fragment in body["detail"]
    (issue,) = body["issues"]
    assert issue["file"] == "mapping 'my_oci' (tenant map_co)"
    assert issue["column"] == column
    assert issue["expression"] == (expression or "")
    assert fragment in issue["problem"]
    assert not FocusMapping.objects.exists()


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"name": "aws", "definition": "x"}, 400, "built-in provider"),
        ({"name": "Bad Name", "definition": "x"}, 400, "name"),
        ({"name": "ok_name", "definition": "[1, 2"}, 400, "not valid YAML"),
        ({"name": "ok_name", "definition": "name: other\n"}, 400, "stored as 'ok_name'"),
        ({"name": "ok_name"}, 400, "definition"),
        ({"name": "ok_name", "definition": "a: 1", "sql": "x"}, 400, "sql"),
    ],
)
def test_bad_input_is_a_400_naming_the_problem(client, body, status, fragment):
    answer = client.post("/api/v1/tenants/map_co/mappings", body, format="json")
    assert answer.status_code == status
    assert fragment in str(answer.json())
    assert not FocusMapping.objects.exists()


def test_a_second_mapping_of_the_same_name_is_409_and_update_revalidates(client):
    first = client.post(
        "/api/v1/tenants/map_co/mappings", {"name": "my_oci", "definition": my_oci()}, format="json"
    )
    again = client.post(
        "/api/v1/tenants/map_co/mappings", {"name": "my_oci", "definition": my_oci()}, format="json"
    )
    assert again.status_code == 409
    path = f"/api/v1/tenants/map_co/mappings/{first.json()['id']}"
    broken = client.put(path, {"definition": my_oci().replace("decimal(", "nope(")}, format="json")
    assert broken.status_code == 400
    assert FocusMapping.objects.get().definition == my_oci()
    changed = my_oci().replace("'Usage-Based'", "'Recurring'")
    assert changed != my_oci()
    assert client.put(path, {"definition": changed}, format="json").status_code == 200
    assert client.get(path).json()["definition"] == changed
    assert client.delete(path).status_code == 204
    assert client.get(path).status_code == 404


def test_preview_refuses_bad_samples_with_a_400(client, imports):
    mapping_id = client.post(
        "/api/v1/tenants/map_co/mappings", {"name": "my_oci", "definition": my_oci()}, format="json"
    ).json()["id"]
    path = f"/api/v1/tenants/map_co/mappings/{mapping_id}/preview"
    missing = client.post(path, {"source_file": "nope.csv"}, format="json")
    assert missing.status_code == 400
    assert "no file 'nope.csv'" in missing.json()["detail"]
    outside = client.post(path, {"source_file": "../other/x.csv"}, format="json")
    assert outside.status_code == 400
    both = client.post(path, {"csv": "a\n1\n", "source_file": "x.csv"}, format="json")
    assert both.status_code == 400
    (imports / "map_co").mkdir()
    (imports / "map_co" / "binary.csv").write_bytes(b"\xff\xfe\x00\x81garbage\n")
    (imports / "map_co" / "export.parquet").write_bytes(b"PAR1\x00\x00")
    for name, fragment in [("binary.csv", "not a readable"), ("export.parquet", "CSV samples")]:
        answer = client.post(path, {"source_file": name}, format="json")
        assert answer.status_code == 400
        assert fragment in answer.json()["detail"]
    lacking = client.post(path, {"csv": "cost/myCost\n1.5\n"}, format="json")
    assert lacking.status_code == 400
    assert "lacks columns the mapping reads" in lacking.json()["detail"]
    assert "lineItem_intervalUsageStart" in lacking.json()["detail"]


def test_preview_lists_empty_required_columns_and_broken_rules(client, tenant, warehouse):
    """A sample with a blank currency and an end before its start: both are reported."""
    mapping_id = client.post(
        "/api/v1/tenants/map_co/mappings", {"name": "my_oci", "definition": my_oci()}, format="json"
    ).json()["id"]
    lines = OCI_SAMPLE.read_text().splitlines()[:4]
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("cost/currencyCode")] = ""
    row[header.index("lineItem/intervalUsageEnd")] = "2023-11-12T23:00+01:00"
    sample = "\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n"
    answer = client.post(
        f"/api/v1/tenants/map_co/mappings/{mapping_id}/preview",
        {"csv": sample, "rows": 10},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["rows_read"] == 3
    empty = {e["column"]: e["empty_rows"] for e in body["empty_required_columns"]}
    assert empty == {"BillingCurrency": 1, "PricingCurrency": 1}
    broken = {r["rule"]: r["rows"] for r in body["broken_rules"]}
    assert broken["ChargePeriod-ordering"] == 1
    assert broken["BillingCurrency-not-null"] == 1


def test_an_unknown_provider_is_refused_clearly_everywhere(client):
    """Run route 404 and provider config / credential 400, each naming what is known."""
    run = client.post("/api/v1/pipelines/run/map_co/alibaba/cost/focus", {}, format="json")
    assert run.status_code == 404
    assert "'alibaba' is neither a built-in provider nor a FOCUS mapping" in run.json()["detail"]
    config = client.post(
        "/api/v1/tenants/map_co/provider-configs", {"provider": "alibaba"}, format="json"
    )
    assert config.status_code == 400
    assert "Unknown provider 'alibaba'" in str(config.json())
    assert "oci" in str(config.json())  # the shipped mappings are named as choices
    credential = client.post(
        "/api/v1/tenants/map_co/credentials",
        {"provider": "oci", "kind": "generic", "name": "k", "secret": {"api_key": "s3cr3t"}},
        format="json",
    )
    assert credential.status_code == 201
    assert "s3cr3t" not in str(credential.json())
    wrong_kind = client.post(
        "/api/v1/tenants/map_co/credentials",
        {"provider": "oci", "kind": "aws_role", "secret": {"role_arn": "x"}},
        format="json",
    )
    assert wrong_kind.status_code == 400
