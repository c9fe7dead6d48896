"""A completed FOCUS run evaluates the tenant's budgets (through the Celery task)."""

import datetime as dt
from decimal import Decimal

import pytest

from budgets.models import BudgetAlert
from budgets.services.budgets import budget_create
from budgets.tests.conftest import focus_days_write
from convergence.celery import app
from pipelines.models import RunStatus
from pipelines.services.runs import pipeline_run_start, run_finish
from tenants.services.audit import Actor


def _finish(run, status, django_capture_on_commit_callbacks):
    run.status = RunStatus.RUNNING
    run.save(update_fields=["status"])
    with django_capture_on_commit_callbacks(execute=True):
        run_finish(run=run, status=status)


@pytest.mark.parametrize(("provider", "pipeline"), [("aws", "focus"), ("focus", "native")])
def test_a_completed_focus_run_evaluates_budgets_a_failed_one_does_not(
    onboard,
    warehouse,
    monkeypatch,
    django_capture_on_commit_callbacks,
    settings,
    tmp_path,
    provider,
    pipeline,
):
    """Only a completed run of a FOCUS pipeline (a provider's or the native FOCUS one)
    triggers the evaluation, which records the alert."""
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    onboarded = onboard(plan="SCALE")
    tenant = onboarded.tenant
    settings.PIPELINE_LOCAL_FILES_DIR = str(tmp_path)
    (tmp_path / tenant.pk).mkdir()
    (tmp_path / tenant.pk / "cur.csv").write_text("a\n1\n")
    budget_create(
        tenant=tenant,
        name="all",
        amount=Decimal("100"),
        thresholds=[{"kind": "actual", "percent": 80}],
        actor=Actor.system("test"),
    )
    focus_days_write(
        warehouse,
        onboarded.dataset_id,
        start=dt.date(2024, 6, 1),
        end=dt.date(2024, 6, 9),
        daily=10,
    )

    def start():
        return pipeline_run_start(
            tenant_id=tenant.pk,
            provider=provider,
            domain="cost",
            pipeline=pipeline,
            parameters={"source_file": "cur.csv"},
            enqueue=False,
        )

    _finish(start(), RunStatus.FAILED, django_capture_on_commit_callbacks)
    assert not BudgetAlert.objects.exists()

    _finish(start(), RunStatus.COMPLETED, django_capture_on_commit_callbacks)
    alert = BudgetAlert.objects.get()
    assert (alert.kind, alert.actual, alert.period_start) == (
        "actual",
        Decimal("90.00"),
        dt.date(2024, 6, 1),
    )
