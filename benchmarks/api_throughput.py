"""Benchmark: the run API under gunicorn beside a bare DRF one-SELECT endpoint, same run.

Usage (PostgreSQL and Redis; the database is dropped and re-created, so its name must
contain "bench"; the load generator is wrk, the Debian package ``wrk``):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/convergence_bench_api \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/9 \
        .venv/bin/python benchmarks/api_throughput.py [--connections 16] [--seconds 10] [--rounds 3]

One gunicorn (``--workers`` sync workers, 2 by default) serves the project with
production settings (DEBUG off, persistent connections) from
``benchmarks/api_bench_settings.py``; its URLs (``api_bench_urls.py``) add two reference
routes: ``/bench/bare``, a DRF view without authentication that makes one SELECT, and
``/bench/hello``, plain Django without the database. wrk drives each endpoint in turn
with ``--connections`` open connections (a closed loop: at most that many requests in
flight) for ``--seconds``; ``--rounds`` rounds interleave the endpoints so they share the
machine's noise. Printed per endpoint: req/s and p99 latency, best and worst round, and
the ratio to the bare endpoint's req/s of the same round.

Endpoints: ``POST /api/v1/pipelines/run/{tenant}/example/demo/hello`` (202, a real
admission: key, quota counters, run and step rows, audit event, a Celery message to the
broker), ``GET /api/v1/pipelines/runs/{id}`` and ``GET /api/v1/tenants/{tenant}/runs?limit=50``
(over the 1,000 runs of the tenant; the trigger's runs go to a second tenant, so the list
counts the same 1,000 in every round, and ``VACUUM ANALYZE`` runs after each trigger round,
untimed, as autovacuum would after its thousands of rows: with the statistics of the seed
the planner takes the listed tenant for the whole table and counts it by a scan of every
run). The plan is roomy, so no run is refused, and the
benchmark's settings raise the request rate limits (the throttles still run and count), so
no request is throttled. wrk tallies every status: req/s counts only answers of the
intended status (202 or 200), any other answer or socket error is counted as a failure and
leaves that round without a ratio. Then the same endpoints in-process (Django's test
client): CPU time per request and statements, steadier than req/s on a shared machine.
Use the Redis database of ``CELERY_BROKER_URL`` for ``CACHE_URL`` too, or production's
default (Redis db 1) is used.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TENANT = "bench_api"
# The trigger's runs go to a tenant of their own, so the tenant read and listed keeps the
# ``--runs`` runs it was seeded with in every round (the list counts them all).
TRIGGER_TENANT = "bench_api_trigger"
SETTINGS = "benchmarks.api_bench_settings"
ENV = {
    "DJANGO_SETTINGS_MODULE": SETTINGS,
    "DJANGO_SECRET_KEY": "benchmark-only-" + "x" * 40,
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "DJANGO_SECURE_SSL_REDIRECT": "False",
    "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
}
# Every response's status is tallied per wrk thread and printed at the end, so a round
# counts only the answers of the intended kind (202 for the trigger, 200 for the rest).
STATUS_LUA = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      io.write(string.format("status %d %d\\n", status, n))
    end
  end
end
"""
POST_LUA = (
    """
wrk.method = "POST"
wrk.body = '{"date": "2024-09-01"}'
wrk.headers["Content-Type"] = "application/json"
"""
    + STATUS_LUA
)


def seed(runs: int) -> tuple[str, str, str]:
    """Two tenants on a roomy plan: ``TENANT`` with ``runs`` runs, ``TRIGGER_TENANT`` with
    none; returns (TENANT's API key, one of its run ids, TRIGGER_TENANT's API key)."""
    from dateutil.relativedelta import relativedelta
    from django.utils import timezone

    from pipelines.services.runs import pipeline_run_start
    from tenants.models import Plan, Subscription, Tenant
    from tenants.services.audit import Actor
    from tenants.services.keys import api_key_issue

    now = timezone.now()
    plan = Plan.objects.create(
        code="BENCH_API",
        name="Bench",
        runs_per_day=10**9,
        runs_per_month=10**9,
        concurrent_runs=10**9,
        team_members=1,
        providers=10,
    )
    keys = []
    for tenant_id in (TENANT, TRIGGER_TENANT):
        tenant = Tenant.objects.create(
            id=tenant_id,
            company_name="Bench",
            admin_email=f"{tenant_id}@example.com",
            status=Tenant.Status.ACTIVE,
            dataset_id=f"{tenant_id}_local",
        )
        Subscription.objects.create(
            tenant=tenant,
            plan=plan,
            status=Subscription.Status.ACTIVE,
            current_period_start=now - timedelta_days(3),
            current_period_end=now - timedelta_days(3) + relativedelta(months=1),
        )
        keys.append(api_key_issue(tenant=tenant, actor=Actor.system("bench")).plaintext)
    run = None
    for i in range(runs):
        run = pipeline_run_start(
            tenant_id=TENANT,
            provider="example",
            domain="demo",
            pipeline="hello",
            parameters={"date": f"2024-09-{i % 28 + 1:02d}"},
            enqueue=False,
        )
    return keys[0], str(run.pk), keys[1]


def timedelta_days(days: int):
    from datetime import timedelta

    return timedelta(days=days)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(*, port: int, workers: int, log_dir: Path) -> subprocess.Popen:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [
            str(gunicorn),
            "convergence.wsgi:application",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--chdir",
            str(ROOT),
        ],
        env={**os.environ, **ENV},
        stdout=open(log_dir / "gunicorn.out", "w"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/hello", timeout=2):
                return process
        except OSError:
            if process.poll() is not None:
                sys.exit(f"gunicorn stopped: see {log_dir / 'gunicorn.out'}")
            time.sleep(0.3)
    process.terminate()
    sys.exit("gunicorn did not answer within 60 s")


def wrk(
    url: str, *, connections: int, seconds: int, key: str | None, lua: Path, expect: int
) -> dict:
    command = [
        "wrk",
        "--threads",
        "2",
        "--connections",
        str(connections),
        "--duration",
        f"{seconds}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    if key:
        command += ["--header", f"X-API-Key: {key}"]
    command += ["--script", str(lua)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    statuses: dict[int, int] = {}
    for status, n in re.findall(r"^status (\d+) (\d+)$", output, flags=re.MULTILINE):
        statuses[int(status)] = statuses.get(int(status), 0) + int(n)
    seconds_run = _ms(re.search(r"requests in ([\d.]+\w+),", output).group(1)) / 1000
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p99 = _ms(re.search(r"\s99%\s+([\d.]+\w+)", output).group(1))
    total = int(re.search(r"(\d+) requests in", output).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    error_count = sum(int(n) for n in re.findall(r"\d+", errors.group(1))) if errors else 0
    good = statuses.get(expect, 0)
    return {
        "statuses": statuses,
        "good": good,
        "bad": sum(statuses.values()) - good,
        "good_rate": good / seconds_run if seconds_run else 0.0,
        "rate": rate,
        "p99_ms": p99,
        "requests": total,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else "",
        "errors": error_count,
    }


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--connections", type=int, default=16, help="wrk open connections")
    parser.add_argument("--seconds", type=int, default=10, help="per endpoint per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=1000, help="runs seeded for read and list")
    parser.add_argument(
        "--port", type=int, default=0, help="port for gunicorn (default: a free one)"
    )
    parser.add_argument(
        "--cpu-requests",
        type=int,
        default=300,
        help="requests per endpoint for the in-process CPU table (0: skip it)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("needs wrk (Debian: apt-get install wrk)")
    from benchmarks.bench_db import prepare_database

    prepare_database(os.environ.get("DATABASE_URL", ""))
    os.environ.update(ENV)
    import django

    django.setup()
    from django import db
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    key, run_id, trigger_key = seed(args.runs)
    # Statistics and the visibility map as autovacuum keeps them in production: a table
    # fresh from seeding has none, and the planner then picks the tenant index for a
    # primary-key look-up, and a count cannot use an index-only scan.
    with db.connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    db.connections.close_all()
    print(f"seeded tenant {TENANT} with {args.runs} runs; triggers go to {TRIGGER_TENANT}")

    log_dir = Path(tempfile.mkdtemp(prefix="api-bench-"))
    post, get = log_dir / "post.lua", log_dir / "get.lua"
    post.write_text(POST_LUA)
    get.write_text(STATUS_LUA)
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    bare_name = "bare one-SELECT DRF endpoint"
    # name: (url, key, script, the status every answer must have)
    endpoints = {
        bare_name: (f"{base}/bench/bare", None, get, 200),
        "POST run trigger (202)": (
            f"{base}/api/v1/pipelines/run/{TRIGGER_TENANT}/example/demo/hello",
            trigger_key,
            post,
            202,
        ),
        "GET run (detail with steps)": (
            f"{base}/api/v1/pipelines/runs/{run_id}",
            key,
            get,
            200,
        ),
        "GET runs list (limit=50)": (
            f"{base}/api/v1/tenants/{TENANT}/runs?limit=50",
            key,
            get,
            200,
        ),
        "hello (no database)": (f"{base}/bench/hello", None, get, 200),
    }
    gunicorn = start_gunicorn(port=port, workers=args.workers, log_dir=log_dir)
    results: dict[str, list[dict]] = {name: [] for name in endpoints}
    try:
        for url, api_key, script, expect in endpoints.values():  # warm every path once
            wrk(url, connections=2, seconds=1, key=api_key, lua=script, expect=expect)
        for round_ in range(1, args.rounds + 1):
            for name, (url, api_key, script, expect) in endpoints.items():
                result = wrk(
                    url,
                    connections=args.connections,
                    seconds=args.seconds,
                    key=api_key,
                    lua=script,
                    expect=expect,
                )
                results[name].append(result)
                if expect == 202:
                    # The trigger wrote thousands of runs and steps since the statistics
                    # were made; autovacuum would refresh them within its minute (untimed).
                    with db.connection.cursor() as cursor:
                        cursor.execute("VACUUM ANALYZE")
                    db.connections.close_all()
                print(
                    f"round {round_}: {name:30} {result['good_rate']:7.1f} req/s of {expect}  "
                    f"p99 {result['p99_ms']:7.1f} ms  statuses {result['statuses']}"
                    + (f"  socket errors: {result['socket_errors']}" if result["errors"] else "")
                )
    finally:
        os.killpg(gunicorn.pid, signal.SIGTERM)
        gunicorn.wait(timeout=30)
        _purge_broker()

    load = os.getloadavg()
    print()
    print(
        f"gunicorn {args.workers} sync workers, production settings (rate limits raised, see "
        f"api_bench_settings.py); wrk {args.connections} connections, {args.seconds} s per "
        f"endpoint, {args.rounds} rounds; load average now {load[0]:.2f} / {load[1]:.2f} / "
        f"{load[2]:.2f} (1 / 5 / 15 min)"
    )
    print(
        "req/s counts only answers of the intended status; any other answer or socket "
        "error is a failure, counted, and makes that round's ratio n/a."
    )
    print(
        f"| {'endpoint':30} | {'req/s (best-worst)':>19} | {'p99 ms (best-worst)':>19} "
        f"| {'x bare (best-worst)':>19} | {'target':>6} | {'failures':>8} |"
    )
    print(f"|{'-' * 32}|{'-' * 21}|{'-' * 21}|{'-' * 21}|{'-' * 8}|{'-' * 10}|")
    targets = {"POST run trigger (202)": 0.5, "GET run (detail with steps)": 0.8}
    targets["GET runs list (limit=50)"] = 0.8
    for name, rounds in results.items():
        rates = [r["good_rate"] for r in rounds]
        p99s = [r["p99_ms"] for r in rounds]
        ratios = [
            r["good_rate"] / b["good_rate"]
            for r, b in zip(rounds, results[bare_name], strict=True)
            if not (r["bad"] or r["errors"] or b["bad"] or b["errors"]) and b["good_rate"]
        ]
        shown = f"{max(ratios):8.2f} - {min(ratios):<8.2f}" if ratios else f"{'n/a':^19}"
        target = f"{targets[name]:.1f}x" if name in targets else ""
        failures = sum(r["bad"] + r["errors"] for r in rounds)
        print(
            f"| {name:30} | {max(rates):8.0f} - {min(rates):<8.0f} | "
            f"{min(p99s):8.1f} - {max(p99s):<8.1f} | {shown} | {target:>6} | {failures:>8} |"
        )
    failures = sum(r["bad"] + r["errors"] for rounds in results.values() for r in rounds)
    print(f"failed answers (not the intended status, or socket errors), all rounds: {failures}")
    if args.cpu_requests:
        cpu_per_request(key=key, trigger_key=trigger_key, run_id=run_id, requests=args.cpu_requests)
        _purge_broker()


def cpu_per_request(*, key: str, trigger_key: str, run_id: str, requests: int) -> None:
    """The same four endpoints in this process through Django's test client (same settings,
    same database, Redis cache): CPU time per request and statements sent. CPU time does
    not count waiting for a core, so on a shared machine it is steadier than req/s."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_X_API_KEY=key)
    trigger_client = Client(HTTP_X_API_KEY=trigger_key)
    calls = {
        "bare one-SELECT DRF endpoint": lambda: client.get("/bench/bare", secure=True),
        "POST run trigger (202)": lambda: trigger_client.post(
            f"/api/v1/pipelines/run/{TRIGGER_TENANT}/example/demo/hello",
            '{"date": "2024-09-01"}',
            content_type="application/json",
            secure=True,
        ),
        "GET run (detail with steps)": lambda: client.get(
            f"/api/v1/pipelines/runs/{run_id}", secure=True
        ),
        "GET runs list (limit=50)": lambda: client.get(
            f"/api/v1/tenants/{TENANT}/runs?limit=50", secure=True
        ),
    }
    print()
    print(f"in-process, {requests} requests each after 20 to warm up (Django test client):")
    print(f"| {'endpoint':30} | {'CPU ms/request':>14} | {'x bare':>7} | {'statements':>10} |")
    print(f"|{'-' * 32}|{'-' * 16}|{'-' * 9}|{'-' * 12}|")
    bare = None
    for name, call in calls.items():
        for _ in range(20):
            response = call()
            assert response.status_code in (200, 202), (name, response.status_code)
        with CaptureQueriesContext(connection) as queries:
            call()
        statements = [q for q in queries.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]
        began = time.process_time()
        for _ in range(requests):
            call()
        cpu = (time.process_time() - began) * 1000 / requests
        bare = bare or cpu
        print(f"| {name:30} | {cpu:14.2f} | {bare / cpu:7.2f} | {len(statements):>10} |")
    print("(x bare here: the bare endpoint's CPU per request over this one's, as for req/s)")


def _purge_broker() -> None:
    """Drop the Celery messages the trigger rounds queued (no worker consumes them here)."""
    from convergence.celery import app

    try:
        app.control.purge()
    except Exception as exc:  # a benchmark's cleanup; report and go on
        print(f"could not purge the broker: {exc}")


if __name__ == "__main__":
    main()
