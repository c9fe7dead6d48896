"""System jobs: orphaned runs recovered with their slot returned, retention, quota windows."""

import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from pipelines.models import PipelineRun, RunStatus
from pipelines.services.runs import run_finish
from scheduling.models import ScheduledRun, SlotState
from scheduling.services.dispatcher import scheduler_tick
from scheduling.services.maintenance import (
    run_logs_purge,
    runs_orphaned_recover,
    usage_windows_roll,
)
from scheduling.services.queue import scheduled_runs_sync
from scheduling.tests.factories import make_schedule
from tenants.models import UsageWindow
from tenants.tests.conftest import key_client


def _scheduled_run(tenant, now):
    make_schedule(tenant=tenant, now=now - timedelta(hours=1))
    scheduler_tick(now=now, enqueue=False)
    return ScheduledRun.objects.get().run


@pytest.mark.django_db
def test_a_run_whose_worker_went_quiet_is_failed_and_retried(
    roomy_tenant, django_capture_on_commit_callbacks
):
    """RUNNING with a 15-minute-old heartbeat: failed, slot released, the schedule retries it."""
    now = timezone.now()
    run = _scheduled_run(roomy_tenant, now)
    PipelineRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, heartbeat_at=now - timedelta(minutes=15), worker="w1"
    )
    fresh = _other_running_run(roomy_tenant, now)

    with django_capture_on_commit_callbacks() as callbacks:
        recovered = runs_orphaned_recover(now=now, stale_after=timedelta(minutes=10))

    assert recovered == [str(run.pk)]
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert not run.holds_slot
    assert "stopped heart-beating" in run.error_message
    assert len(callbacks) == 1  # the warehouse log of the failed run
    fresh.refresh_from_db()
    assert fresh.status == RunStatus.RUNNING
    # A second sweep finds nothing; the failed slot is queued for a retry.
    assert runs_orphaned_recover(now=now, stale_after=timedelta(minutes=10)) == []
    assert scheduled_runs_sync().retried == 1
    assert ScheduledRun.objects.get(run__isnull=True).state == SlotState.QUEUED


def _other_running_run(tenant, now):
    from pipelines.services.runs import pipeline_run_start

    run = pipeline_run_start(
        tenant_id=tenant.id,
        provider="example",
        domain="demo",
        pipeline="hello",
        parameters={"date": "2024-06-03"},
        enqueue=False,
    )
    PipelineRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, heartbeat_at=now)
    return run


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_killed_worker_process_is_recovered_and_its_slot_returned(requires_postgres, onboard):
    """A real worker claims a run and is SIGKILLed: cleanup fails it, usage drops to 0."""
    onboarded = onboard()
    tenant = onboarded.tenant
    run = _scheduled_run(tenant, timezone.now())
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scheduling.tests.fake_worker",
            str(run.pk),
            connection.settings_dict["NAME"],
        ],
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout.readline().strip() == "claimed"
        time.sleep(1.5)
        # Alive and heart-beating: not an orphan.
        assert runs_orphaned_recover(stale_after=timedelta(seconds=1)) == []
        usage = key_client(onboarded.api_key).get(f"/api/v1/tenants/{tenant.id}/usage").json()
        assert usage["concurrent"]["used"] == 1
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        time.sleep(1.5)
        assert runs_orphaned_recover(stale_after=timedelta(seconds=1)) == [str(run.pk)]
    finally:
        worker.kill()
        worker.wait(timeout=10)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.worker == f"fake-worker-{worker.pid}"
    assert not run.holds_slot
    assert run.logged_to_warehouse
    usage = key_client(onboarded.api_key).get(f"/api/v1/tenants/{tenant.id}/usage").json()
    assert usage["concurrent"]["used"] == 0


@pytest.mark.django_db
def test_retention_deletes_only_old_finished_runs(roomy_tenant):
    """Runs ended more than 90 days ago go (with their slots); newer and active runs stay."""
    now = timezone.now()
    old = _scheduled_run(roomy_tenant, now - timedelta(days=100))
    run_finish(run=old, status=RunStatus.COMPLETED)
    PipelineRun.objects.filter(pk=old.pk).update(
        ended_at=now - timedelta(days=95), logged_to_warehouse=True
    )
    scheduled_runs_sync()
    ScheduledRun.objects.update(updated_at=now - timedelta(days=95))
    recent = _other_running_run(roomy_tenant, now)
    assert run_logs_purge(now=now) == {"runs": 1, "slots": 1}
    assert list(PipelineRun.objects.values_list("pk", flat=True)) == [recent.pk]


@pytest.mark.django_db
def test_rolling_quota_windows_opens_todays_window_once(roomy_tenant):
    """Every runnable tenant gets today's and this month's window; a second roll adds none."""
    now = timezone.now()
    assert usage_windows_roll(now=now)["tenants"] == 1
    count = UsageWindow.objects.filter(tenant=roomy_tenant).count()
    assert count == 2
    usage_windows_roll(now=now)
    assert UsageWindow.objects.filter(tenant=roomy_tenant).count() == count
