"""Batch admission: the set-based PostgreSQL statement and the general path agree."""

import pytest
from django.db import transaction
from django.utils import timezone

from pipelines.models import SlotCounter
from pipelines.services.quotas import runs_admit_batch
from scheduling.tests.factories import tenant_on_plan
from tenants.models import Tenant, UsageWindow

pytestmark = pytest.mark.django_db


def _counted(tenant: Tenant, runs: int, now) -> None:
    with transaction.atomic():
        assert runs_admit_batch(wanted={tenant.id: runs}, now=now)[tenant.id].admitted == runs


def _outcome(wanted: dict[str, int], now, *, set_based: bool) -> tuple[dict, list, list]:
    """The batch's answers and the counters it leaves, then rolled back."""
    with transaction.atomic():
        answers = runs_admit_batch(wanted=wanted, now=now, set_based=set_based)
        windows = sorted(
            UsageWindow.objects.values_list("tenant_id", "kind", "starts_at", "runs_used")
        )
        counters = sorted(SlotCounter.objects.values_list("tenant_id", "held"))
        transaction.set_rollback(True)
    described = {
        tenant_id: (
            answer.admitted,
            type(answer.refusal).__name__,
            getattr(answer.refusal, "message", None),
            *(getattr(answer.refusal, f, None) for f in ("window", "used", "limit", "resets_at")),
        )
        for tenant_id, answer in answers.items()
    }
    return described, windows, counters


def test_set_based_and_general_paths_give_the_same_outcomes():
    """One batch over every case (runs that fit; a daily, monthly or concurrent limit reached
    part-way; a suspended tenant; a tenant with no counter or window rows yet; a tenant that
    does not exist; a tenant asking for none): the PostgreSQL statement that counts fitting
    tenants at once and the tenant-by-tenant path give the same answers and leave the same
    counters. Elsewhere (SQLite) both are the general path, and the answers still hold."""
    now = timezone.now()
    fits = tenant_on_plan(runs_per_day=10, runs_per_month=100, concurrent_runs=10)
    _counted(fits, 1, now)
    daily = tenant_on_plan(runs_per_day=2, runs_per_month=100, concurrent_runs=10)
    _counted(daily, 1, now)
    monthly = tenant_on_plan(runs_per_day=10, runs_per_month=2, concurrent_runs=10)
    _counted(monthly, 2, now)
    concurrent = tenant_on_plan(runs_per_day=10, runs_per_month=100, concurrent_runs=2)
    _counted(concurrent, 1, now)
    suspended = tenant_on_plan(status=Tenant.Status.SUSPENDED, status_reason="unpaid")
    fresh = tenant_on_plan(runs_per_day=10, runs_per_month=100, concurrent_runs=10)
    idle = tenant_on_plan()
    wanted = {
        fits.id: 2,
        daily.id: 3,
        monthly.id: 1,
        concurrent.id: 3,
        suspended.id: 1,
        fresh.id: 2,
        "no_such_tenant": 1,
        idle.id: 0,
    }

    set_based = _outcome(wanted, now, set_based=True)
    general = _outcome(wanted, now, set_based=False)

    assert set_based == general
    answers, _, counters = general
    assert {t: a[:2] for t, a in answers.items()} == {
        fits.id: (2, "NoneType"),
        daily.id: (1, "QuotaExceeded"),
        monthly.id: (0, "QuotaExceeded"),
        concurrent.id: (1, "QuotaExceeded"),
        suspended.id: (0, "TenantCannotRun"),
        fresh.id: (2, "NoneType"),
    }
    assert [answers[t][3:6] for t in (daily.id, monthly.id, concurrent.id)] == [
        ("daily", 2, 2),
        ("monthly", 2, 2),
        ("concurrent", 2, 2),
    ]
    assert "unpaid" in answers[suspended.id][2]
    assert dict(counters)[fresh.id] == 2 and dict(counters)[fits.id] == 3
