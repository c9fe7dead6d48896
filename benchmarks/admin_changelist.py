"""Admin pages with 1,000 and then 100,000 runs: milliseconds and queries per page load.

Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/convergence_bench_admin \
     .venv/bin/python benchmarks/admin_changelist.py
The database named in DATABASE_URL (its name must contain "bench") is dropped and re-created.
"""

import os
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convergence.settings.test")

import django
import environ

PAGES = {
    "dashboard": "/admin/",
    "runs changelist": "/admin/pipelines/pipelinerun/",
    "runs changelist, status=FAILED": "/admin/pipelines/pipelinerun/?status__exact=FAILED",
    "runs search": "/admin/pipelines/pipelinerun/?q=demo_0007",
    "tenants changelist": "/admin/tenants/tenant/",
}


def _recreate_database() -> None:
    url = environ.Env().db_url("DATABASE_URL")
    if "postgresql" not in url["ENGINE"] or "bench" not in url["NAME"]:
        sys.exit("DATABASE_URL must name a PostgreSQL database whose name contains 'bench'")
    import psycopg

    with psycopg.connect(
        host=url["HOST"],
        port=url["PORT"] or 5432,
        user=url["USER"],
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url["NAME"]}"')
        conn.execute(f'CREATE DATABASE "{url["NAME"]}"')


def _add_runs(count: int, tenants: list) -> None:
    from django.utils import timezone

    from pipelines.models import PipelineRun, RunStatus

    now = timezone.now()
    statuses = [RunStatus.COMPLETED] * 8 + [RunStatus.FAILED]
    batch = []
    for i in range(count):
        created = now - timedelta(minutes=i % (60 * 24 * 30))
        batch.append(
            PipelineRun(
                id=uuid.uuid4(),
                tenant=tenants[i % len(tenants)],
                provider="example",
                domain="demo",
                pipeline="hello",
                pipeline_id="bench",
                status=statuses[i % len(statuses)],
                holds_slot=False,
                started_at=created,
                ended_at=created + timedelta(seconds=5 + i % 50),
                rows_processed=i % 1000,
            )
        )
        if len(batch) == 5000:
            PipelineRun.objects.bulk_create(batch)
            batch = []
    PipelineRun.objects.bulk_create(batch)
    # created_at is auto_now_add; spread it over 30 days like real traffic.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("UPDATE pipelines_pipelinerun SET created_at = started_at")
        cursor.execute("ANALYZE pipelines_pipelinerun")


def _measure(client) -> dict[str, tuple[float, int]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    results = {}
    for name, url in PAGES.items():
        client.get(url)  # warm caches and the connection
        timings, queries = [], 0
        for _ in range(5):
            with CaptureQueriesContext(connection) as captured:
                start = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (url, response.status_code)
            queries = len(captured)
        results[name] = (statistics.median(timings), queries)
    return results


def main() -> None:
    _recreate_database()
    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from tenants.models import Plan, Subscription, Tenant

    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)
    plan = Plan.objects.get(code="SCALE")
    tenants = []
    for i in range(100):
        tenant = Tenant.objects.create(
            id=f"demo_{i:04d}",
            company_name=f"Demo {i}",
            admin_email=f"ops+{i}@example.com",
            dataset_id=f"demo_{i:04d}_local",
        )
        Subscription.objects.create(
            tenant=tenant,
            plan=plan,
            current_period_start=tenant.created_at,
            current_period_end=tenant.created_at + timedelta(days=30),
        )
        tenants.append(tenant)
    user = get_user_model().objects.create_superuser("bench", "b@example.com", "x")
    client = Client()
    client.force_login(user)

    _add_runs(1_000, tenants)
    small = _measure(client)
    _add_runs(99_000, tenants)
    large = _measure(client)

    print(f"{'page':34} | {'1,000 runs':>18} | {'100,000 runs':>18}")
    print(f"{'':34} | {'ms (queries)':>18} | {'ms (queries)':>18}")
    for name in PAGES:
        (ms_s, q_s), (ms_l, q_l) = small[name], large[name]
        print(f"{name:34} | {ms_s:10.1f} ({q_s:3d}) | {ms_l:10.1f} ({q_l:3d})")


if __name__ == "__main__":
    main()
