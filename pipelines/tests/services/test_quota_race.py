"""Admission under a real race on PostgreSQL: exactly the limit is admitted, never more."""

import threading
import time

import pytest
from django.db import connection, connections
from django.utils import timezone
from rest_framework.test import APIClient

from pipelines.models import PipelineRun, StepRun
from tenants.models import AuditEvent, Plan, Subscription, UsageWindow

REQUESTS = 200
RUN_URL = "/api/v1/pipelines/run/{tenant}/example/demo/hello"

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _race(target, count: int = REQUESTS) -> list:
    """Run ``target`` in ``count`` threads released at once, each on its own connection."""
    barrier = threading.Barrier(count)
    results: list = []
    lock = threading.Lock()

    def worker():
        try:
            barrier.wait(timeout=60)
            outcome = target()
        except Exception as exc:  # the assertion below shows any error
            outcome = exc
        finally:
            connections.close_all()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def _plan(tenant, **limits) -> None:
    plan = Plan.objects.create(
        code=f"RACE_{tenant.id}".upper()[:32],
        name="race",
        runs_per_day=limits.get("day", 1000),
        runs_per_month=limits.get("month", 10000),
        concurrent_runs=limits.get("concurrent", 1000),
        team_members=1,
        providers=1,
    )
    Subscription.objects.filter(tenant=tenant).update(plan=plan)


def _post_run(key: str, tenant_id: str):
    def post():
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=key)
        response = client.post(
            RUN_URL.format(tenant=tenant_id), {"date": "2024-09-01"}, format="json"
        )
        return response.status_code, response.json()

    return post


def test_daily_limit_admits_exactly_the_limit(requires_postgres, onboard):
    """200 simultaneous requests against a daily limit of 25: 25 answers 202, 175 answer 429."""
    assert int(_show_max_connections()) > REQUESTS + 20, "raise max_connections (.ci/run does)"
    onboarded = onboard("race_daily")
    _plan(onboarded.tenant, day=25)
    results = _race(_post_run(onboarded.api_key, "race_daily"))
    codes = sorted(code for code, _ in results)
    assert codes.count(202) == 25, results[:3]
    assert codes.count(429) == REQUESTS - 25
    refused = next(body for code, body in results if code == 429)
    assert refused["used"] == 25 and refused["limit"] == 25 and refused["window"] == "daily"
    assert refused["resets_at"]
    assert PipelineRun.objects.filter(tenant_id="race_daily").count() == 25
    day = UsageWindow.objects.get(tenant_id="race_daily", kind="day")
    assert day.runs_used == 25
    # A refused run leaves nothing: no steps and no audit event of its own either.
    assert StepRun.objects.filter(run__tenant_id="race_daily").count() == 25 * 2
    started = AuditEvent.objects.filter(tenant_id="race_daily", action="run.start")
    assert sorted(started.values_list("target", flat=True)) == sorted(
        str(pk)
        for pk in PipelineRun.objects.filter(tenant_id="race_daily").values_list("pk", flat=True)
    )


def test_concurrent_limit_admits_exactly_the_limit(requires_postgres, onboard):
    """200 simultaneous requests against a concurrent limit of 3 admit exactly 3."""
    onboarded = onboard("race_conc")
    _plan(onboarded.tenant, concurrent=3)
    results = _race(_post_run(onboarded.api_key, "race_conc"))
    codes = [code for code, _ in results]
    assert codes.count(202) == 3, results[:3]
    assert codes.count(429) == REQUESTS - 3
    refused = next(body for code, body in results if code == 429)
    assert refused["window"] == "concurrent" and refused["used"] == 3
    assert PipelineRun.objects.filter(tenant_id="race_conc", holds_slot=True).count() == 3


def test_naive_read_then_write_over_admits(requires_postgres, onboard):
    """The same harness against a check without a lock admits more than the limit.

    This shows the race is real: the atomic admission above is what keeps the count exact.
    """
    onboard("race_naive")
    limit = 25

    def naive_admit():
        used = PipelineRun.objects.filter(tenant_id="race_naive").count()
        if used >= limit:
            return 429
        time.sleep(0.01)  # the work between the check and the write
        PipelineRun.objects.create(
            tenant_id="race_naive",
            provider="example",
            domain="demo",
            pipeline="hello",
            pipeline_id="naive",
            created_at=timezone.now(),
        )
        return 202

    results = _race(naive_admit)
    assert results.count(202) > limit, results.count(202)
    assert PipelineRun.objects.filter(tenant_id="race_naive").count() > limit


def _show_max_connections() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        return cursor.fetchone()[0]
