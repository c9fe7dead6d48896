"""The scheduler API end to end: schedules per tenant, bad input, isolation, staff endpoints."""

from datetime import timedelta

import pytest
from django.utils import timezone

from pipelines.models import PipelineRun, RunStatus
from scheduling.models import Schedule, ScheduledRun, SlotState
from tenants.models import AuditEvent
from tenants.tests.conftest import key_client

pytestmark = [pytest.mark.urls("scheduling.tests.urls"), pytest.mark.django_db]

BODY = {
    "provider": "example",
    "domain": "demo",
    "pipeline": "hello",
    "cron": "30 2 * * *",
    "timezone": "America/New_York",
}


def _url(tenant_id: str, config_id: int | None = None, suffix: str = "") -> str:
    url = f"/api/v1/scheduler/tenant/{tenant_id}/pipelines"
    return url + (f"/{config_id}" if config_id is not None else "") + suffix


def test_tenant_schedules_lists_updates_and_deletes(onboard):
    """POST answers 201 with next_run_at and five upcoming runs; GET lists; PATCH; DELETE 204."""
    a = onboard()
    client = key_client(a.api_key)
    created = client.post(_url(a.tenant.id), BODY, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["cron_description"] == "At 02:30 AM"
    assert len(body["upcoming_runs"]) == 5
    assert body["next_run_at"] == body["upcoming_runs"][0].replace("+00:00", "Z")
    assert body["max_retries"] == 3 and body["catch_up"] == "latest"

    listed = client.get(_url(a.tenant.id)).json()
    assert [s["config_id"] for s in listed] == [body["config_id"]]

    patched = client.patch(
        _url(a.tenant.id, body["config_id"]), {"cron": "0 6 * * 1", "priority": 5}, format="json"
    )
    assert patched.status_code == 200, patched.json()
    assert patched.json()["priority"] == 5
    assert patched.json()["next_run_at"] != body["next_run_at"]

    deleted = client.delete(_url(a.tenant.id, body["config_id"]))
    assert deleted.status_code == 204
    assert not Schedule.objects.exists()
    actions = set(AuditEvent.objects.filter(tenant_id=a.tenant.id).values_list("action", flat=True))
    assert {"schedule.create", "schedule.update", "schedule.delete"} <= actions


def test_cron_defaults_to_the_configs_schedule(onboard):
    """Without a cron, the pipeline config's default schedule is used."""
    from pipelines.configs import pipeline_config_get

    a = onboard()
    body = {k: v for k, v in BODY.items() if k != "cron"}
    created = key_client(a.api_key).post(_url(a.tenant.id), body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["cron"] == pipeline_config_get("example", "demo", "hello").schedule


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cron": "61 2 * * *"}, "cron"),
        ({"cron": "every night"}, "cron"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"pipeline": "no_such_pipeline"}, "pipeline"),
        ({"catch_up": "sometimes"}, "catch_up"),
    ],
)
def test_bad_schedule_input_is_400_naming_it(onboard, change, field):
    """An invalid cron or timezone, or a pipeline the tenant cannot run: 400 naming it."""
    a = onboard()
    response = key_client(a.api_key).post(_url(a.tenant.id), {**BODY, **change}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(field)
    assert not Schedule.objects.exists()


def test_bad_patch_is_400_and_changes_nothing(onboard):
    """PATCH with an invalid timezone answers 400; the schedule keeps its values."""
    a = onboard()
    client = key_client(a.api_key)
    config_id = client.post(_url(a.tenant.id), BODY, format="json").json()["config_id"]
    response = client.patch(_url(a.tenant.id, config_id), {"timezone": "Nowhere"}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("timezone")
    assert Schedule.objects.get().timezone == "America/New_York"


def test_scheduling_the_same_pipeline_twice_is_409(onboard):
    """One schedule per tenant pipeline: a second POST answers 409."""
    a = onboard()
    client = key_client(a.api_key)
    assert client.post(_url(a.tenant.id), BODY, format="json").status_code == 201
    again = client.post(_url(a.tenant.id), BODY, format="json")
    assert again.status_code == 409
    assert "already scheduled" in again.json()["detail"]


def test_another_tenants_schedules_are_404(onboard):
    """A's key on B's schedules: 404 for list, create, patch and delete; B's schedule survives."""
    a, b = onboard(), onboard()
    config_id = (
        key_client(b.api_key).post(_url(b.tenant.id), BODY, format="json").json()["config_id"]
    )
    client = key_client(a.api_key)
    assert client.get(_url(b.tenant.id)).status_code == 404
    assert client.post(_url(b.tenant.id), BODY, format="json").status_code == 404
    assert (
        client.patch(_url(b.tenant.id, config_id), {"active": False}, format="json").status_code
        == 404
    )
    assert client.delete(_url(b.tenant.id, config_id)).status_code == 404
    # A's own tenant id with B's config id is 404 too.
    assert client.delete(_url(a.tenant.id, config_id)).status_code == 404
    assert Schedule.objects.get(pk=config_id).active


def test_staff_endpoints_refuse_tenant_keys(onboard):
    """trigger, process-queue, reset-daily-quotas, cleanup and status are staff only."""
    client = key_client(onboard().api_key)
    for method, path in [
        ("post", "/api/v1/scheduler/trigger"),
        ("post", "/api/v1/scheduler/process-queue"),
        ("post", "/api/v1/scheduler/reset-daily-quotas"),
        ("post", "/api/v1/scheduler/cleanup-orphaned-pipelines"),
        ("get", "/api/v1/scheduler/status"),
    ]:
        assert getattr(client, method)(path).status_code == 403, path


def test_trigger_starts_due_runs_and_status_reports_them(onboard, staff_client):
    """An external cron's trigger dispatches a due schedule; status shows it pending."""
    a = onboard()
    body = {**BODY, "cron": "* * * * *"}
    config_id = staff_client.post(_url(a.tenant.id), body, format="json").json()["config_id"]
    minute_ago = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=1)
    Schedule.objects.filter(pk=config_id).update(next_run_at=minute_ago)

    before = staff_client.get("/api/v1/scheduler/status").json()
    assert before["due"] == 1
    assert before["oldest_lag_seconds"] >= 60

    triggered = staff_client.post("/api/v1/scheduler/trigger")
    assert triggered.status_code == 200
    assert triggered.json()["started"] == 1
    status = staff_client.get("/api/v1/scheduler/status").json()
    assert (status["due"], status["pending"], status["queued"]) == (0, 1, 0)
    assert PipelineRun.objects.get().trigger == PipelineRun.Trigger.SCHEDULED


def test_staff_maintenance_endpoints(onboard, staff_client):
    """process-queue, reset-daily-quotas and cleanup answer 200 with what they did."""
    onboard()
    assert staff_client.post("/api/v1/scheduler/process-queue").json()["started"] == 0
    assert staff_client.post("/api/v1/scheduler/reset-daily-quotas").json()["tenants"] == 1
    cleanup = staff_client.post(
        "/api/v1/scheduler/cleanup-orphaned-pipelines", {"stale_after_minutes": 5}, format="json"
    )
    assert cleanup.json() == {"recovered": [], "requeued": []}


def test_backfill_queues_one_slot_per_day_and_skips_existing(onboard, staff_client):
    """Backfilling 3 days of a daily schedule queues 3 slots; repeating it queues none."""
    a = onboard()
    config_id = staff_client.post(_url(a.tenant.id), BODY, format="json").json()["config_id"]
    url = _url(a.tenant.id, config_id, "/backfill")
    body = {"start_date": "2024-03-09", "end_date": "2024-03-11"}
    response = staff_client.post(url, body, format="json")
    assert response.status_code == 202
    assert response.json()["slots_queued"] == 3
    assert staff_client.post(url, body, format="json").json()["slots_queued"] == 0
    slots = ScheduledRun.objects.order_by("slot_at")
    assert {s.kind for s in slots} == {ScheduledRun.Kind.BACKFILL}
    assert {s.state for s in slots} == {SlotState.QUEUED}
    bad = staff_client.post(
        url, {"start_date": "2024-03-11", "end_date": "2024-03-09"}, format="json"
    )
    assert bad.status_code == 400
    assert bad.json()["detail"].startswith("end_date")


def test_backfill_is_staff_only(onboard):
    """A tenant key cannot backfill, even its own schedule."""
    a = onboard()
    client = key_client(a.api_key)
    config_id = client.post(_url(a.tenant.id), BODY, format="json").json()["config_id"]
    response = client.post(
        _url(a.tenant.id, config_id, "/backfill"),
        {"start_date": "2024-03-09", "end_date": "2024-03-10"},
        format="json",
    )
    assert response.status_code == 403
    assert not ScheduledRun.objects.exists()
    assert not PipelineRun.objects.filter(status=RunStatus.PENDING).exists()
