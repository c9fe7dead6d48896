"""The run API: 202 at once, reads, filters, cancel, and clear refusals."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pipelines.models import PipelineRun, RunStatus, SlotCounter
from tenants.models import ApiKey, AuditEvent, UsageWindow
from tenants.tests.conftest import key_client

HELLO = "/api/v1/pipelines/run/{tenant}/example/demo/hello"


@pytest.fixture
def tenant(onboard):
    return onboard("runs_co", plan="PROFESSIONAL")


@pytest.fixture
def client(tenant):
    return key_client(tenant.api_key)


def test_start_answers_202_and_run_is_readable(client, tenant):
    """Starting a run answers 202 with its id; the run and its steps can be read back."""
    response = client.post(
        HELLO.format(tenant="runs_co"), {"date": "2024-09-01"}, format="json", HTTP_X_USER_ID="u-7"
    )
    assert response.status_code == 202, response.json()
    run_id = response.json()["run_id"]
    # The older name of the run id stays as an alias.
    assert response.json()["pipeline_logging_id"] == run_id
    assert response.json()["status"] == "PENDING"
    detail = client.get(f"/api/v1/pipelines/runs/{run_id}")
    assert detail.status_code == 200
    body = detail.json()
    assert body["user_id"] == "u-7"
    assert body["parameters"]["date"] == "2024-09-01"
    assert [s["step_id"] for s in body["steps"]] == ["say_hello", "check_hello"]


def test_runs_list_filters_and_paginates(client, tenant):
    """The tenant's runs list filters by status and pages with limit/offset."""
    for day in ("2024-09-01", "2024-09-02", "2024-09-03"):
        PipelineRun.objects.create(
            tenant=tenant.tenant,
            provider="example",
            domain="demo",
            pipeline="hello",
            pipeline_id="x",
            status=RunStatus.COMPLETED,
            holds_slot=False,
            parameters={"date": day},
        )
    page = client.get("/api/v1/tenants/runs_co/runs?limit=2&status=COMPLETED").json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
    assert client.get("/api/v1/tenants/runs_co/runs?status=FAILED").json()["count"] == 0
    bad = client.get("/api/v1/tenants/runs_co/runs?status=DONE")
    assert bad.status_code == 400 and bad.json()["detail"].startswith("status")


def test_cancel_via_api(client):
    """A pending run is cancelled by the API; cancelling again answers 409."""
    run_id = client.post(
        HELLO.format(tenant="runs_co"), {"date": "2024-09-01"}, format="json"
    ).json()["pipeline_logging_id"]
    cancelled = client.post(f"/api/v1/pipelines/runs/{run_id}/cancel")
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "CANCELLED"
    again = client.post(f"/api/v1/pipelines/runs/{run_id}/cancel")
    assert again.status_code == 409 and "CANCELLED" in again.json()["detail"]


def test_unknown_pipeline_is_404_naming_it(client):
    """An unknown pipeline answers 404 with its path in the detail."""
    response = client.post("/api/v1/pipelines/run/runs_co/aws/cost/nope", {}, format="json")
    assert response.status_code == 404
    assert "aws/cost/nope" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "date"),
        ({"date": "01/09/2024"}, "date"),
        ({"date": "2024-09-01", "extra": "x"}, "extra"),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_parameters_are_400(client, body, fragment):
    """Bad run parameters answer 400 naming the problem; no run, no usage."""
    response = client.post(HELLO.format(tenant="runs_co"), body, format="json")
    assert response.status_code == 400
    assert fragment in response.json()["detail"]
    assert PipelineRun.objects.count() == 0
    assert UsageWindow.objects.get(tenant_id="runs_co", kind="day").runs_used == 0


GCP_BILLING = "/api/v1/pipelines/run/{tenant}/gcp/cost/billing"


def test_a_pipeline_missing_provider_settings_is_400_naming_the_setting(client, tenant):
    """gcp/cost/billing without the GCP billing export table: 400 naming the setting; no run,
    no usage. Once the provider config holds it, the same request is admitted."""
    body = {"date": "2023-09-02"}
    response = client.post(GCP_BILLING.format(tenant="runs_co"), body, format="json")
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "billing_export_table" in detail and "gcp" in detail
    assert "/api/v1/tenants/runs_co/provider-configs" in detail
    assert PipelineRun.objects.count() == 0
    assert UsageWindow.objects.get(tenant_id="runs_co", kind="day").runs_used == 0

    stored = client.post(
        "/api/v1/tenants/runs_co/provider-configs",
        {"provider": "gcp", "settings": {"billing_export_table": "acme-billing.exports.gcp_v1"}},
        format="json",
    )
    assert stored.status_code in (200, 201), stored.json()
    admitted = client.post(GCP_BILLING.format(tenant="runs_co"), body, format="json")
    assert admitted.status_code == 202, admitted.json()
    assert UsageWindow.objects.get(tenant_id="runs_co", kind="day").runs_used == 1


def test_quota_and_status_refusals(client, staff_client):
    """Over the daily limit: 429 with used/limit/resets_at; suspended: 403 with the reason."""
    UsageWindow.objects.filter(tenant_id="runs_co", kind="day").update(runs_used=25)
    over = client.post(HELLO.format(tenant="runs_co"), {"date": "2024-09-01"}, format="json")
    assert over.status_code == 429
    assert {k: over.json()[k] for k in ("used", "limit", "window")} == {
        "used": 25,
        "limit": 25,
        "window": "daily",
    }
    assert over.json()["resets_at"].endswith("+00:00")
    staff_client.patch(
        "/api/v1/admin/tenants/runs_co", {"status": "SUSPENDED", "reason": "abuse"}, format="json"
    )
    refused = client.post(HELLO.format(tenant="runs_co"), {"date": "2024-09-01"}, format="json")
    assert refused.status_code == 403
    assert "SUSPENDED" in refused.json()["detail"] and "abuse" in refused.json()["detail"]


def test_other_tenants_run_is_404(onboard, client):
    """Another tenant's run id answers 404 on read and cancel."""
    other = onboard("other_co")
    run_id = (
        key_client(other.api_key)
        .post(HELLO.format(tenant="other_co"), {"date": "2024-09-01"}, format="json")
        .json()["pipeline_logging_id"]
    )
    assert client.get(f"/api/v1/pipelines/runs/{run_id}").status_code == 404
    assert client.post(f"/api/v1/pipelines/runs/{run_id}/cancel").status_code == 404
    assert PipelineRun.objects.get(pk=run_id).status == RunStatus.PENDING


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_executes_the_run(celery_worker, onboard, warehouse):
    """A run started through the API is executed by a Celery worker and logged once."""
    onboarded = onboard("worker_co")
    client = key_client(onboarded.api_key)
    run_id = client.post(
        HELLO.format(tenant="worker_co"), {"date": "2024-09-01"}, format="json"
    ).json()["pipeline_logging_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = client.get(f"/api/v1/pipelines/runs/{run_id}").json()["status"]
        if status in {"COMPLETED", "FAILED"}:
            break
        time.sleep(0.2)
    run = PipelineRun.objects.get(pk=run_id)
    assert run.status == RunStatus.COMPLETED, run.error_message
    assert run.worker and not run.holds_slot
    # The worker mirrors the run into the warehouse just after it commits the final state.
    runs_table = warehouse.quoted(onboarded.dataset_id, "x_meta_pipeline_runs")
    while True:
        logged = warehouse.query(
            f"SELECT status FROM {runs_table} WHERE pipeline_logging_id = @run", {"run": run_id}
        ).rows
        if logged or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert logged == [{"status": "COMPLETED"}]


@pytest.fixture
def broker_unreachable(monkeypatch):
    """Celery's producers connect to a port nothing listens on: each publish is refused."""
    from kombu import Connection

    from convergence.celery import app

    def fresh_pools():  # both pools are made on first use, from connection_for_write
        app._pool = None
        app.amqp._producer_pool = None

    monkeypatch.setattr(
        app, "connection_for_write", lambda **kw: Connection("redis://127.0.0.1:9/0", **kw)
    )
    fresh_pools()
    yield
    monkeypatch.undo()
    fresh_pools()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_run_admitted_while_the_broker_is_down_is_202_and_sent_again_later(
    onboard, broker_unreachable, caplog
):
    """The run is committed before its message is sent: with the broker down the answer is
    still 202 (a 500 would invite a second try, and a second run against the quota), the run
    waits PENDING, an error names it for the operator, and maintenance re-sends it."""
    from datetime import timedelta

    from django.utils import timezone

    from scheduling.services.maintenance import runs_pending_requeue

    client = key_client(onboard("broker_down_co").api_key)
    response = client.post(
        HELLO.format(tenant="broker_down_co"), {"date": "2024-09-01"}, format="json"
    )
    assert response.status_code == 202, response.content
    run = PipelineRun.objects.get(pk=response.json()["run_id"])
    assert run.status == RunStatus.PENDING and run.holds_slot
    assert UsageWindow.objects.get(tenant_id="broker_down_co", kind="day").runs_used == 1
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any("not queued, broker unreachable" in e and str(run.pk) in e for e in errors), errors
    # Still down: the maintenance sweep's own send fails loudly, and the run stays pending.
    later = timezone.now() + timedelta(minutes=11)
    with pytest.raises(Exception, match=r"127\.0\.0\.1:9\b"):
        runs_pending_requeue(now=later)


def test_run_detail_lists_each_steps_checks(client, tenant):
    """A tenant reads its run's data-quality and FOCUS conformance outcomes from the API."""
    from pipelines.models import StepRun

    run = PipelineRun.objects.create(
        tenant_id="runs_co",
        provider="azure",
        domain="cost",
        pipeline="focus",
        pipeline_id="runs_co_azure_cost_focus",
        status=RunStatus.COMPLETED,
        parameters={"date": "2024-09-01"},
    )
    StepRun.objects.create(
        run=run,
        index=0,
        step_id="check_focus",
        ps_type="dq.check",
        status=RunStatus.COMPLETED,
        details={
            "checks": {
                "focus:RegionName-C-004-C": {
                    "passed": False,
                    "observed": "14",
                    "expected": "0",
                    "message": "RegionName MUST be null when RegionId is null.",
                }
            }
        },
    )
    body = client.get(f"/api/v1/pipelines/runs/{run.pk}").json()
    assert body["steps"][0]["checks"] == [
        {
            "name": "focus:RegionName-C-004-C",
            "passed": False,
            "observed": "14",
            "expected": "0",
            "message": "RegionName MUST be null when RegionId is null.",
        }
    ]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_admitted_run_takes_at_most_six_queries(requires_postgres, onboard):
    """Key check (when its row is not cached), the admission (``runs_admit_batch`` with one
    run: lock the counter, count the run), then the run, its steps and its audit event: at
    most six statements for one 202, whatever the tenant's history."""
    onboarded = onboard("runs_short", plan="PROFESSIONAL")
    client = key_client(onboarded.api_key)
    # The key's last-used time is written at most every few minutes; this request does it.
    assert client.get("/api/v1/tenants/runs_short/runs").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            HELLO.format(tenant="runs_short"), {"date": "2024-09-01"}, format="json"
        )
    assert response.status_code == 202, response.json()
    # Transaction control (BEGIN, COMMIT) is not counted: it carries no query.
    statements = [q["sql"] for q in queries.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]
    assert len(statements) <= 6, "\n".join(statements)
    run = PipelineRun.objects.get(pk=response.json()["pipeline_logging_id"])
    assert run.steps.count() == 2 and run.holds_slot
    assert UsageWindow.objects.get(tenant_id="runs_short", kind="day").runs_used == 1
    assert SlotCounter.objects.get(tenant_id="runs_short").held == 1
    event = AuditEvent.objects.get(action="run.start", target=str(run.pk))
    assert event.tenant_id == "runs_short"
    assert event.actor_label == ApiKey.objects.get(tenant_id="runs_short").prefix
    assert event.details == {"config_path": "example/demo/hello", "trigger": "manual"}


def test_run_answers_equal_the_documented_serializers(client, tenant):
    """The read, list and trigger answers are what RunDetailOutputSerializer and
    RunOutputSerializer (the OpenAPI schema) give for the stored runs, for a finished run
    with timings and checks and for a pending one."""
    from datetime import timedelta

    from django.utils import timezone

    from pipelines.apis import RunDetailOutputSerializer, RunOutputSerializer
    from pipelines.models import StepRun

    started = timezone.now() - timedelta(minutes=3)
    done = PipelineRun.objects.create(
        tenant_id="runs_co",
        provider="example",
        domain="demo",
        pipeline="hello",
        pipeline_id="runs_co_hello",
        status=RunStatus.FAILED,
        parameters={"date": "2024-09-01", "n": [1, 2]},
        user_id="u-1",
        started_at=started,
        ended_at=started + timedelta(seconds=2, milliseconds=345),
        rows_processed=12,
        bytes_processed=3456,
        error_message='boom "quoted"',
    )
    StepRun.objects.create(
        run=done,
        index=0,
        step_id="s",
        ps_type="dq.check",
        status=RunStatus.FAILED,
        started_at=started,
        ended_at=started + timedelta(seconds=1),
        details={"checks": {"c": {"passed": True, "observed": "1"}}},
    )
    pending = client.post(HELLO.format(tenant="runs_co"), {"date": "2024-09-02"}, format="json")
    assert pending.status_code == 202
    pending_run = PipelineRun.objects.get(pk=pending.json()["run_id"])
    assert pending.json() == RunOutputSerializer(pending_run).data
    for run in (done, pending_run):
        body = client.get(f"/api/v1/pipelines/runs/{run.pk}").json()
        assert body == RunDetailOutputSerializer(PipelineRun.objects.get(pk=run.pk)).data
    listed = client.get("/api/v1/tenants/runs_co/runs?limit=10").json()["results"]
    expected = RunOutputSerializer(PipelineRun.objects.order_by("-created_at"), many=True).data
    assert listed == expected


def test_run_read_and_list_take_three_queries(client, tenant):
    """Read: key, run, steps. List: key, count, page; neither grows with the rows shown."""
    for day in (1, 2, 3):
        body = {"date": f"2024-09-0{day}"}
        assert client.post(HELLO.format(tenant="runs_co"), body, format="json").status_code == 202
    run = PipelineRun.objects.filter(tenant_id="runs_co").first()
    from django.core.cache import cache

    for url in (f"/api/v1/pipelines/runs/{run.pk}", "/api/v1/tenants/runs_co/runs?limit=50"):
        cache.clear()  # the key's row is read from the database, not the cache
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        assert len(queries) <= 3, "\n".join(q["sql"] for q in queries.captured_queries)


def test_run_answers_equal_the_serializers_for_awkward_values(client, tenant):
    """The run answers equal the documented serializers' output for the stored runs, with
    awkward values: a timestamp on a whole second,
    a duration that double arithmetic truncates differently from an exact one (1.001 s is
    1000 ms in the serializer), text with quotes, control and non-ASCII characters, numbers
    in parameters, steps stored out of order, checks, filters, pages past the end."""
    from datetime import UTC, datetime, timedelta

    from pipelines.apis import RunDetailOutputSerializer, RunOutputSerializer
    from pipelines.models import StepRun

    started = datetime(2024, 9, 1, 12, 0, 0, tzinfo=UTC)
    run = PipelineRun.objects.create(
        tenant_id="runs_co",
        provider="example",
        domain="demo",
        pipeline="hello",
        pipeline_id="runs_co_hello",
        status=RunStatus.FAILED,
        parameters={"date": "2024-09-01", "ratio": 1.5e-07, "big": 10**18, "ü": [None, True]},
        user_id="ü-1",
        started_at=started,
        ended_at=started + timedelta(microseconds=1_001_000),
        error_message='bad "value"\n\ttab \x01 \u2028 é ✓ \\ </script>',
    )
    for index, details in (
        (2, {"checks": None}),
        (0, {"checks": {"b_check": {"passed": False, "observed": "3", "expected": "0"}}}),
        (1, {"checks": {"x": {"passed": True, "observed": None}, "a": {"passed": True}}}),
    ):
        StepRun.objects.create(
            run=run,
            index=index,
            step_id=f"step_{index}",
            ps_type="dq.check",
            status=RunStatus.COMPLETED,
            started_at=started + timedelta(microseconds=index),
            ended_at=started + timedelta(seconds=index, microseconds=3_000),
            details=details,
        )
    body = client.get(f"/api/v1/pipelines/runs/{run.pk}").json()
    assert body == RunDetailOutputSerializer(PipelineRun.objects.get(pk=run.pk)).data
    assert body["duration_ms"] == 1000 and [s["index"] for s in body["steps"]] == [0, 1, 2]
    assert body["started_at"] == "2024-09-01T12:00:00Z"

    for _ in range(3):
        assert client.post(HELLO.format(tenant="runs_co"), {"date": "2024-09-02"}, format="json")
    runs = PipelineRun.objects.filter(tenant_id="runs_co").order_by("-created_at", "-id")
    for query, expected, count in (
        ("limit=2&offset=1", runs[1:3], 4),
        ("status=FAILED", runs.filter(status=RunStatus.FAILED), 1),
        ("status=PENDING&trigger=manual&provider=example&pipeline=hello", runs[:3], 3),
        ("created_after=2024-09-01T00:00:00Z&created_before=2024-09-02T00:00:00Z", [], 0),
        ("offset=50", [], 4),
    ):
        page = client.get(f"/api/v1/tenants/runs_co/runs?{query}")
        assert page.status_code == 200, page.json()
        assert page.json()["results"] == RunOutputSerializer(expected, many=True).data, query
        assert page.json()["count"] == count, query
    page = client.get("/api/v1/tenants/runs_co/runs?limit=2&offset=1").json()
    assert page["next"] == "http://testserver/api/v1/tenants/runs_co/runs?limit=2&offset=3"
    assert page["previous"] == "http://testserver/api/v1/tenants/runs_co/runs?limit=2"
