"""The isolation issue's reproductions, through the API and the engine, as an attacker tried them.

Tenant D (delta) knows tenant B's (bravo's) dataset naming and tries to read B's raw table,
probe its columns, load from B's bucket, and run the platform's own pipelines.
"""

import pytest

from pipelines.models import PipelineRun, RunStatus
from pipelines.services.runs import pipeline_run_execute, pipeline_run_start
from tenants.models import ProviderConfig, UsageWindow
from tenants.services.audit import Actor
from tenants.tests.conftest import key_client
from warehouse.bigquery import Column

BRAVO_COLUMN = "bravo_private_column"
RUN = "/api/v1/pipelines/run/{tenant}/{path}"


@pytest.fixture
def bravo(onboard, warehouse):
    """Tenant B, with a raw table holding rows and a column name D must never learn."""
    onboarded = onboard("sec_bravo")
    columns = [Column("usage_start_time", "TIMESTAMP"), Column(BRAVO_COLUMN, "STRING")]
    warehouse.table_create(onboarded.dataset_id, "aws_cur_raw", columns)
    warehouse.table_create(
        onboarded.dataset_id, "no_usage_column", [Column(BRAVO_COLUMN, "STRING")]
    )
    warehouse.insert_rows(
        onboarded.dataset_id,
        "aws_cur_raw",
        [{"usage_start_time": "2023-09-02T10:00:00Z", BRAVO_COLUMN: "bravo-secret"}],
    )
    return onboarded


@pytest.fixture
def delta(onboard):
    return onboard("sec_delta", plan="PROFESSIONAL")


@pytest.fixture
def client(delta):
    return key_client(delta.api_key)


def _usage(tenant_id: str) -> list[int]:
    return sorted(
        UsageWindow.objects.filter(tenant_id=tenant_id).values_list("runs_used", flat=True)
    )


@pytest.mark.parametrize("table", ["aws_cur_raw", "no_usage_column"])
def test_provider_config_naming_another_tenants_table_is_refused(client, bravo, warehouse, table):
    """Saving B's table as D's billing export: 400 naming the rule, nothing saved."""
    response = client.post(
        "/api/v1/tenants/sec_delta/provider-configs",
        {
            "provider": "gcp",
            "settings": {"billing_export_table": f"{warehouse.project}.{bravo.dataset_id}.{table}"},
        },
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "may read only its tenant's dataset 'sec_delta_local'" in response.content.decode()
    assert not ProviderConfig.objects.filter(tenant_id="sec_delta").exists()


def test_provider_config_with_own_or_outside_sources_is_saved(client, delta, warehouse):
    """D's own dataset, a table in D's own GCP project, and D's buckets are accepted."""
    for table in (f"{warehouse.project}.{delta.dataset_id}.export", "delta-gcp-1.billing.export"):
        response = client.post(
            "/api/v1/tenants/sec_delta/provider-configs",
            {"provider": "gcp", "settings": {"billing_export_table": table}},
            format="json",
        )
        assert response.status_code in (200, 201), response.content
    response = client.post(
        "/api/v1/tenants/sec_delta/provider-configs",
        {"provider": "aws", "settings": {"source_buckets": "delta-cur, gs://delta-archive/"}},
        format="json",
    )
    assert response.status_code in (200, 201), response.content
    bad = client.post(
        "/api/v1/tenants/sec_delta/provider-configs",
        {"provider": "aws", "settings": {"source_buckets": "Not A Bucket!"}},
        format="json",
    )
    assert bad.status_code == 400 and "source_buckets" in bad.content.decode()


@pytest.mark.parametrize("table", ["aws_cur_raw", "no_usage_column"])
def test_a_run_reading_another_tenants_table_fails_naming_the_rule(
    delta, bravo, warehouse, table, django_capture_on_commit_callbacks
):
    """A config saved before the check (written straight to the database) still cannot read B.

    The step is refused by the access check: D's dataset gets none of B's rows, and neither
    the step's nor the run's error names any column of B's table.
    """
    ProviderConfig.objects.create(
        tenant_id="sec_delta",
        provider="gcp",
        settings={"billing_export_table": f"{warehouse.project}.{bravo.dataset_id}.{table}"},
    )
    run = pipeline_run_start(
        tenant_id="sec_delta",
        provider="gcp",
        domain="cost",
        pipeline="billing",
        parameters={"date": "2023-09-02"},
        enqueue=False,
    )
    with django_capture_on_commit_callbacks(execute=True):
        pipeline_run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "may read only its tenant's dataset 'sec_delta_local'" in run.error_message
    texts = [run.error_message, *run.steps.values_list("error_message", flat=True)]
    assert not any(BRAVO_COLUMN in text or "Candidate bindings" in text for text in texts)
    assert "gcp_cost_billing" not in warehouse.tables_list(delta.dataset_id)
    bravo_rows = warehouse.query(
        f"SELECT COUNT(*) AS n FROM {warehouse.quoted(bravo.dataset_id, 'aws_cur_raw')}"
    ).rows[0]["n"]
    assert bravo_rows == 1


def test_a_file_from_an_unregistered_bucket_is_refused_at_admission(client, delta):
    """gs:// from a bucket D did not register: 400 naming the rule, no run, no quota used."""
    before = _usage("sec_delta")
    response = client.post(
        RUN.format(tenant="sec_delta", path="aws/cost/focus"),
        {"source_file": "gs://other-bucket/x.csv"},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "buckets registered in the tenant's provider config" in response.json()["detail"]
    assert not PipelineRun.objects.filter(tenant_id="sec_delta").exists()
    assert _usage("sec_delta") == before


def test_a_file_from_a_registered_bucket_is_admitted(client, delta):
    ProviderConfig.objects.create(
        tenant_id="sec_delta", provider="aws", settings={"source_buckets": "delta-cur"}
    )
    response = client.post(
        RUN.format(tenant="sec_delta", path="aws/cost/focus"),
        {"source_file": "gs://delta-cur/2023/11/cur.csv.gz"},
        format="json",
    )
    assert response.status_code == 202, response.content


def test_system_pipelines_are_not_a_tenants_to_run_or_schedule(client, delta):
    """system/* answers a tenant exactly as an unknown pipeline does; nothing is created."""
    unknown = client.post(
        RUN.format(tenant="sec_delta", path="system/onboarding/nope"), {}, format="json"
    )
    system = client.post(
        RUN.format(tenant="sec_delta", path="system/onboarding/dryrun"), {}, format="json"
    )
    assert system.status_code == unknown.status_code == 404
    assert "system/onboarding/dryrun" in system.json()["detail"]
    schedules = "/api/v1/scheduler/tenant/sec_delta/pipelines"
    answers = [
        client.post(
            schedules,
            {"provider": "system", "domain": "onboarding", "pipeline": name, "cron": "0 6 * * *"},
            format="json",
        )
        for name in ("dryrun", "nope")
    ]
    assert [a.status_code for a in answers] == [answers[1].status_code] * 2
    assert answers[0].status_code in (400, 404)
    assert "No pipeline config system/onboarding/dryrun" in answers[0].content.decode()
    assert not PipelineRun.objects.filter(tenant_id="sec_delta").exists()


def test_a_failed_load_names_no_server_path(
    delta, settings, tmp_path, django_capture_on_commit_callbacks
):
    """A file gone between admission and load: the tenant sees its name, not the server's path."""
    settings.PIPELINE_LOCAL_FILES_DIR = str(tmp_path)
    (tmp_path / "sec_delta").mkdir()
    source = tmp_path / "sec_delta" / "x.csv"
    source.write_text("a\n1\n")
    run = pipeline_run_start(
        tenant_id="sec_delta",
        provider="aws",
        domain="cost",
        pipeline="focus",
        parameters={"source_file": "x.csv"},
        enqueue=False,
        actor=Actor.system("test"),
    )
    source.unlink()
    with django_capture_on_commit_callbacks(execute=True):
        pipeline_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    texts = [run.error_message, *run.steps.values_list("error_message", flat=True)]
    assert any("x.csv" in text for text in texts)
    assert not any(str(tmp_path) in text or ".py:" in text for text in texts)
