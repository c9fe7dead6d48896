"""Onboarding creates everything or nothing; the dry run creates nothing."""

import pytest

from tenants.errors import ProvisioningFailed, TenantAlreadyExists, TenantInvalid
from tenants.models import ApiKey, AuditEvent, Subscription, Tenant, UsageWindow
from tenants.services.audit import Actor
from tenants.services.onboarding import tenant_dry_run, tenant_onboard
from warehouse.bigquery import Warehouse, WarehouseUnavailable
from warehouse.tables import COMPREHENSIVE_VIEW, META_TABLES


def _counts():
    return [m.objects.count() for m in (Tenant, Subscription, UsageWindow, ApiKey)]


def test_onboard_creates_tenant_rows_and_dataset(onboard, warehouse):
    """A new tenant gets a subscription, usage windows, a first key and a dataset with tables."""
    onboarded = onboard("acme_corp", plan="PROFESSIONAL")
    tenant = Tenant.objects.get(pk="acme_corp")
    assert tenant.subscription.plan.code == "PROFESSIONAL"
    assert set(tenant.usage_windows.values_list("kind", flat=True)) == {"day", "month"}
    assert onboarded.api_key.startswith("sk_acme_corp_")
    assert tenant.api_keys.count() == 1
    assert onboarded.dataset_id == "acme_corp_local" == tenant.dataset_id
    assert warehouse.tables_list(onboarded.dataset_id) == sorted([*META_TABLES, COMPREHENSIVE_VIEW])
    assert AuditEvent.objects.filter(tenant_id="acme_corp", action="tenant.onboard").exists()


def test_duplicate_tenant_id_refused(onboard):
    """Onboarding a taken tenant id raises TenantAlreadyExists and changes nothing."""
    onboard("dupe_co")
    before = _counts()
    with pytest.raises(TenantAlreadyExists):
        onboard("dupe_co")
    assert _counts() == before


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("tenant_id", {"tenant_id": "Bad-Id"}),
        ("admin_email", {"admin_email": "not-an-email"}),
        ("plan", {"plan_code": "PLATINUM"}),
        ("company_name", {"company_name": "  "}),
    ],
)
def test_invalid_input_names_the_field(db, field, kwargs):
    """Invalid input is refused before anything is created, naming the field."""
    values = {
        "tenant_id": "valid_id",
        "company_name": "Valid",
        "admin_email": "a@example.com",
        "plan_code": "STARTER",
        **kwargs,
    }
    with pytest.raises(TenantInvalid) as info:
        tenant_onboard(actor=Actor.system("test"), **values)
    assert info.value.field == field
    assert _counts() == [0, 0, 0, 0]


def test_warehouse_failure_part_way_leaves_nothing(db, warehouse, monkeypatch):
    """If the warehouse fails after the dataset and tables exist, both rows and dataset go."""
    created_tables = []
    real_table_create = Warehouse.table_create

    def table_create(self, dataset_id, table_id, *args, **kwargs):
        real_table_create(self, dataset_id, table_id, *args, **kwargs)
        created_tables.append(table_id)

    def view_create(self, *args, **kwargs):
        raise WarehouseUnavailable("simulated outage while creating the view")

    monkeypatch.setattr(Warehouse, "table_create", table_create)
    monkeypatch.setattr(Warehouse, "view_create", view_create)
    with pytest.raises(ProvisioningFailed, match="nothing was created"):
        tenant_onboard(
            tenant_id="half_made",
            company_name="Half",
            admin_email="a@example.com",
            plan_code="STARTER",
            actor=Actor.system("test"),
        )
    assert created_tables == list(META_TABLES)  # it really failed part-way
    assert not warehouse.dataset_exists("half_made_local")
    assert _counts() == [0, 0, 0, 0]
    assert not AuditEvent.objects.filter(tenant_id="half_made").exists()


def test_force_recreate_tables_empties_log_tables(onboard, warehouse):
    """force_recreate_tables drops and recreates the log tables of an existing dataset."""
    onboarded = onboard("recreate_co")
    warehouse.insert_rows(
        onboarded.dataset_id,
        "x_meta_pipeline_runs",
        [
            {
                "pipeline_logging_id": "r1",
                "tenant_id": "recreate_co",
                "pipeline_id": "p",
                "status": "COMPLETED",
                "logged_at": "2024-01-01T00:00:00Z",
            }
        ],
    )
    Tenant.objects.filter(pk="recreate_co").delete()
    onboard("recreate_co", force_recreate_tables=True)
    runs = warehouse.quoted(onboarded.dataset_id, "x_meta_pipeline_runs")
    rows = warehouse.query(f"SELECT COUNT(*) AS n FROM {runs}").rows
    assert rows == [{"n": 0}]


def test_dry_run_all_checks_pass_and_creates_nothing(db, warehouse):
    """With everything in place, every dry-run check passes and no row is written."""
    report = tenant_dry_run(
        tenant_id="new_co", company_name="New Co", admin_email="a@example.com", plan_code="SCALE"
    )
    assert report.summary == {
        "total_checks": 10,
        "passed": 10,
        "failed": 0,
        "ready_for_onboarding": True,
    }, report.as_dict()
    assert _counts() == [0, 0, 0, 0]
    assert not warehouse.dataset_exists("new_co_local")


def _failed(report):
    return [c.name for c in report.checks if not c.passed]


def test_dry_run_each_check_fails_on_its_own(db, warehouse, onboard, settings, tmp_path):
    """Each check fails alone when only its condition is broken."""
    ok = {
        "tenant_id": "fresh_co",
        "company_name": "Fresh Co",
        "admin_email": "a@example.com",
        "plan_code": "STARTER",
    }
    assert _failed(tenant_dry_run(**{**ok, "tenant_id": "NO"})) == [
        "tenant_id_format",
        "tenant_id_unused",
    ]
    assert _failed(tenant_dry_run(**{**ok, "admin_email": "nope"})) == ["admin_email"]
    assert _failed(tenant_dry_run(**{**ok, "company_name": "  "})) == ["company_name"]
    assert _failed(tenant_dry_run(**{**ok, "plan_code": "GOLD"})) == ["plan_exists"]
    onboard("taken_co")
    assert _failed(tenant_dry_run(**{**ok, "tenant_id": "taken_co"})) == ["tenant_id_unused"]

    settings.KMS_LOCAL_KEYRING_PATH = str(tmp_path / "file" / "keyring.json")
    (tmp_path / "file").write_text("")
    assert _failed(tenant_dry_run(**ok)) == ["kms_reachable"]
    settings.KMS_LOCAL_KEYRING_PATH = str(tmp_path / "keyring.json")

    configs_dir = settings.PIPELINE_CONFIGS_DIR
    settings.PIPELINE_CONFIGS_DIR = tmp_path / "no-configs"
    assert _failed(tenant_dry_run(**ok)) == ["onboarding_config"]
    settings.PIPELINE_CONFIGS_DIR = configs_dir

    from devtools.emulator import free_port

    settings.WAREHOUSE_ENDPOINT = f"http://127.0.0.1:{free_port()}"
    assert _failed(tenant_dry_run(**ok)) == ["warehouse_reachable"]


def test_dry_run_reports_missing_control_tables(db, warehouse, monkeypatch):
    """A database without the control tables fails only that check."""
    from django.db import connection

    real = connection.introspection.table_names
    monkeypatch.setattr(
        connection.introspection,
        "table_names",
        lambda *a, **k: [t for t in real(*a, **k) if t != "tenants_apikey"],
    )
    report = tenant_dry_run(
        tenant_id="fresh_co", company_name="Fresh", admin_email="a@example.com", plan_code="STARTER"
    )
    assert _failed(report) == ["control_tables"]


def test_dry_run_says_what_onboarding_would_do_with_the_dataset(db, warehouse):
    """The dataset check names what onboarding would do with the flags it was given."""

    def said(**flags) -> str:
        report = tenant_dry_run(
            tenant_id="kept_co",
            company_name="Kept",
            admin_email="a@example.com",
            plan_code="STARTER",
            **flags,
        )
        return next(c.message for c in report.checks if c.name == "dataset")

    assert said().startswith("Dataset kept_co_local would be created")
    assert said(status="ACTIVE").endswith("the tenant would start as ACTIVE.")
    warehouse.dataset_create("kept_co_local")
    try:
        assert "exists and would be kept" in said()
        assert "would be dropped with all its tables" in said(force_recreate_dataset=True)
        assert "log tables and view would be recreated" in said(force_recreate_tables=True)
    finally:
        warehouse.dataset_delete("kept_co_local")
