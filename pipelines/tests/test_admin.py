"""The runs admin: live progress, run now and retry through the run service, constant queries."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pipelines.models import ROWS_WRITTEN, PipelineRun, RunStatus, StepRun, StepStatus
from tenants.models import AuditEvent, Tenant
from tenants.tests.factories import TenantFactory

CHANGELIST = "/admin/pipelines/pipelinerun/"
RUN_NOW = "/admin/pipelines/pipelinerun/run-now/"
HELLO = "example/demo/hello"


def make_run(
    tenant: Tenant,
    *,
    status: str = RunStatus.COMPLETED,
    steps: tuple[str, ...] = (RunStatus.COMPLETED, RunStatus.COMPLETED),
    **fields,
) -> PipelineRun:
    """A run row with its steps, written directly: admin pages only read them."""
    now = timezone.now()
    final = status not in (RunStatus.PENDING, RunStatus.RUNNING)
    run = PipelineRun.objects.create(
        tenant=tenant,
        provider="example",
        domain="demo",
        pipeline="hello",
        pipeline_id=f"{tenant.pk}_example_hello",
        status=status,
        parameters={"date": "2024-09-01", "greeting": "hello"},
        holds_slot=not final,
        started_at=None if status == RunStatus.PENDING else now - timedelta(seconds=5),
        ended_at=now if final else None,
        **fields,
    )
    StepRun.objects.bulk_create(
        StepRun(
            run=run,
            index=i,
            step_id=f"step_{i}",
            ps_type="gcp.bq_etl",
            status=step_status,
            rows_processed=10 * (i + 1),
            details={ROWS_WRITTEN: 10 * (i + 1)},
            started_at=now - timedelta(seconds=4),
            ended_at=now - timedelta(seconds=2) if step_status != RunStatus.RUNNING else None,
            error_message="boom: table missing" if step_status == RunStatus.FAILED else "",
        )
        for i, step_status in enumerate(steps)
    )
    return run


def progress_url(run: PipelineRun) -> str:
    return reverse("admin:pipelines_pipelinerun_progress", args=[run.pk])


@pytest.mark.django_db
def test_run_page_shows_progress_steps_and_refreshes_while_running(admin_client):
    """A running run's page shows steps done of total, each step, and polls its JSON."""
    run = make_run(TenantFactory(), status=RunStatus.RUNNING, steps=("COMPLETED", "RUNNING"))
    page = admin_client.get(reverse("admin:pipelines_pipelinerun_change", args=[run.pk]))
    content = page.content.decode()
    assert page.status_code == 200
    assert "1 of 2 steps done" in content
    assert 'id="run-status" class="status-badge s-RUNNING"' in content
    assert "step_0" in content and "step_1" in content
    assert 'aria-valuenow="50"' in content
    assert progress_url(run) in content
    assert "window.setTimeout(poll" in content


@pytest.mark.django_db
def test_finished_run_page_shows_errors_and_does_not_poll(admin_client):
    """A failed run's page lists the failing step's error and has no polling script."""
    run = make_run(
        TenantFactory(),
        status=RunStatus.FAILED,
        steps=("COMPLETED", "FAILED"),
        error_message="step_1 failed",
    )
    content = admin_client.get(
        reverse("admin:pipelines_pipelinerun_change", args=[run.pk])
    ).content.decode()
    assert "boom: table missing" in content
    assert "2 of 2 steps done" in content
    assert "window.setTimeout(poll" not in content
    assert reverse("admin:pipelines_pipelinerun_retry", args=[run.pk]) in content


@pytest.mark.django_db
def test_progress_json_follows_the_steps(admin_client):
    """The progress endpoint counts finished steps and reports each step's numbers."""
    run = make_run(TenantFactory(), status=RunStatus.RUNNING, steps=("COMPLETED", "RUNNING"))
    body = admin_client.get(progress_url(run)).json()
    assert (body["status"], body["final"]) == ("RUNNING", False)
    assert (body["steps_done"], body["steps_total"], body["percent"]) == (1, 2, 50)
    # Rows written to the final table so far: the last completed writing step's, not a sum.
    assert body["rows_processed"] == 10
    assert [s["status"] for s in body["steps"]] == ["COMPLETED", "RUNNING"]
    assert body["steps"][0]["duration_ms"] == 2000

    StepRun.objects.filter(run=run, index=1).update(status=RunStatus.COMPLETED)
    PipelineRun.objects.filter(pk=run.pk).update(status=RunStatus.COMPLETED)
    body = admin_client.get(progress_url(run)).json()
    assert (body["status"], body["final"], body["steps_done"], body["percent"]) == (
        "COMPLETED",
        True,
        2,
        100,
    )
    assert body["rows_processed"] == 20


@pytest.mark.django_db
def test_a_skipped_step_counts_as_done_and_shows_as_skipped(admin_client):
    """A step the run did not need is SKIPPED (not CANCELLED) and counts toward done."""
    run = make_run(
        TenantFactory(), status=RunStatus.COMPLETED, steps=("COMPLETED", StepStatus.SKIPPED)
    )
    body = admin_client.get(progress_url(run)).json()
    assert (body["steps_done"], body["percent"]) == (2, 100)
    assert body["steps"][1]["status"] == "SKIPPED"
    page = admin_client.get(reverse("admin:pipelines_pipelinerun_change", args=[run.pk]))
    assert 'class="status-badge s-SKIPPED">SKIPPED' in page.content.decode()
    assert f'<code id="run-id">{run.pk}</code>' in page.content.decode()


@pytest.mark.django_db
def test_progress_json_is_staff_only(client, django_user_model):
    """Anonymous and non-staff users are sent to the login page, never given run data."""
    run = make_run(TenantFactory())
    assert client.get(progress_url(run)).status_code == 302
    user = django_user_model.objects.create_user("customer", password="pw-not-staff-1")
    client.force_login(user)
    response = client.get(progress_url(run))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_progress_json_404_for_unknown_run(admin_client):
    """An unknown run id is a 404, not an error page."""
    url = reverse(
        "admin:pipelines_pipelinerun_progress", args=["00000000-0000-0000-0000-000000000000"]
    )
    assert admin_client.get(url).status_code == 404


@pytest.mark.django_db
def test_run_now_form_starts_a_manual_run_and_audits_it(admin_client, admin_user):
    """Run now goes through pipeline_run_start: one run, its steps, the staff user audited."""
    tenant = TenantFactory()
    form = admin_client.get(RUN_NOW + f"?tenant={tenant.pk}")
    assert form.status_code == 200
    assert HELLO in form.content.decode()
    assert "system/" not in form.content.decode()

    response = admin_client.post(
        RUN_NOW,
        {"tenant": tenant.pk, "pipeline": HELLO, "parameters": json.dumps({"date": "2024-09-01"})},
    )
    run = PipelineRun.objects.get(tenant=tenant)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:pipelines_pipelinerun_change", args=[run.pk])
    assert (run.status, run.trigger, run.user_id) == ("PENDING", "manual", admin_user.username)
    assert run.parameters["date"] == "2024-09-01"
    assert run.steps.count() == 2
    event = AuditEvent.objects.get(action="run.start")
    assert (event.tenant_id, event.target, event.actor) == (tenant.pk, str(run.pk), admin_user)
    assert event.details["config_path"] == HELLO


@pytest.mark.django_db
def test_run_now_refused_by_the_service_shows_why_and_leaves_nothing(admin_client):
    """A suspended tenant's run is refused on the form: no run, no audit event."""
    tenant = TenantFactory(status=Tenant.Status.SUSPENDED)
    response = admin_client.post(
        RUN_NOW, {"tenant": tenant.pk, "pipeline": HELLO, "parameters": '{"date": "2024-09-01"}'}
    )
    assert response.status_code == 200
    assert "SUSPENDED" in response.content.decode()
    assert not PipelineRun.objects.exists()
    assert not AuditEvent.objects.filter(action="run.start").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"tenant": "no_such_tenant", "parameters": "{}"}, "No tenant"),
        ({"parameters": "[1, 2]"}, "JSON object"),
        ({"parameters": "{not json"}, "Not JSON"),
        ({"parameters": '{"date": "yesterday"}'}, "parameter"),
    ],
)
def test_run_now_form_errors(admin_client, data, message):
    """Unknown tenants, bad JSON and bad parameters show on the form and start nothing."""
    tenant = TenantFactory()
    post = {"tenant": tenant.pk, "pipeline": HELLO, **data}
    response = admin_client.post(RUN_NOW, post)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not PipelineRun.objects.exists()


@pytest.mark.django_db
def test_run_now_needs_change_permission(client, django_user_model):
    """Staff who may only view runs cannot start one."""
    user = django_user_model.objects.create_user("viewer", password="pw-viewer-1", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_pipelinerun"))
    client.force_login(user)
    assert client.get(RUN_NOW).status_code == 403
    assert "run-now-link" not in client.get(CHANGELIST).content.decode()


@pytest.mark.django_db
def test_retry_starts_a_new_run_with_the_same_parameters(admin_client, admin_user):
    """Retry makes a new run (trigger retry, next attempt, same parameters), audited."""
    failed = make_run(TenantFactory(), status=RunStatus.FAILED, steps=("FAILED", "CANCELLED"))
    response = admin_client.post(reverse("admin:pipelines_pipelinerun_retry", args=[failed.pk]))
    retry = PipelineRun.objects.exclude(pk=failed.pk).get()
    assert response["Location"] == reverse("admin:pipelines_pipelinerun_change", args=[retry.pk])
    assert (retry.trigger, retry.attempt, retry.status) == ("retry", 2, "PENDING")
    assert (retry.tenant_id, retry.config_path) == (failed.tenant_id, failed.config_path)
    assert retry.parameters == failed.parameters
    event = AuditEvent.objects.get(action="run.retry")
    assert event.actor == admin_user
    assert event.details == {"config_path": HELLO, "trigger": "retry", "retry_of": str(failed.pk)}


@pytest.mark.django_db
def test_retry_of_an_active_run_is_refused(admin_client):
    """A run still running is not retried; the page says why."""
    running = make_run(TenantFactory(), status=RunStatus.RUNNING, steps=("RUNNING",))
    response = admin_client.post(
        reverse("admin:pipelines_pipelinerun_retry", args=[running.pk]), follow=True
    )
    assert "still RUNNING" in response.content.decode()
    assert PipelineRun.objects.count() == 1
    assert (
        admin_client.get(
            reverse("admin:pipelines_pipelinerun_retry", args=[running.pk])
        ).status_code
        == 405
    )


@pytest.mark.django_db
def test_retry_action_retries_each_selected_run(admin_client):
    """The changelist action starts one retry per selected finished run."""
    runs = [make_run(TenantFactory(), status=RunStatus.FAILED, steps=("FAILED",)) for _ in range(2)]
    admin_client.post(
        CHANGELIST,
        {"action": "retry_runs", "_selected_action": [str(r.pk) for r in runs]},
    )
    assert PipelineRun.objects.filter(trigger="retry").count() == 2
    assert AuditEvent.objects.filter(action="run.retry").count() == 2


def _populate_runs(count: int) -> None:
    tenants = [TenantFactory() for _ in range(3)]
    for i in range(count):
        make_run(tenants[i % 3], status=RunStatus.COMPLETED, steps=("COMPLETED",))


@pytest.mark.django_db
def test_changelist_queries_do_not_grow_with_rows(admin_client, django_assert_max_num_queries):
    """Listing 3 or 300 runs takes the same number of queries."""
    _populate_runs(3)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(CHANGELIST).status_code == 200
    _populate_runs(297)
    with django_assert_max_num_queries(len(few)):
        response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert "300 pipeline runs" in response.content.decode()


@pytest.mark.django_db
def test_run_page_lists_data_quality_and_focus_conformance_failures_first(admin_client):
    """A run's FOCUS conformance outcomes show on its page, failed rules first with the rule."""
    run = make_run(TenantFactory())
    StepRun.objects.filter(run=run, index=1).update(
        details={
            "checks": {
                "min_rows": {"passed": True, "observed": "27", "expected": ">= 1", "message": ""},
                "focus:ServiceName-C-005-C": {
                    "passed": False,
                    "observed": "1",
                    "expected": "0",
                    "message": "ServiceName MUST have one and only one ServiceCategory.",
                },
            }
        }
    )
    content = admin_client.get(
        reverse("admin:pipelines_pipelinerun_change", args=[run.pk])
    ).content.decode()
    table = content.split('id="run-checks"', 1)[1]
    assert table.index("focus:ServiceName-C-005-C") < table.index("min_rows")
    assert "ServiceName MUST have one and only one ServiceCategory." in table
    assert "FAIL" in table and "PASS" in table
