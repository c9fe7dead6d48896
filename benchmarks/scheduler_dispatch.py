"""Benchmark: 100,000 schedules, 10,000 due at once; our dispatcher vs django-celery-beat.

Usage (PostgreSQL only; the database is dropped and re-created, so its name must
contain "bench"):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/convergence_bench \
        python benchmarks/scheduler_dispatch.py [--workers 2] [--timeout 120]

Both sides get the same 100,000 daily cron schedules over 10,000 tenants (10 each,
spread over every hour and five timezones); for each tenant one schedule falls due at
the same minute boundary T, so 10,000 slots are due at once (the "everyone at 02:00"
burst). Setup is not timed. Then, from T:

- ours: ``scheduler_tick`` run by ``--workers`` processes at the dispatcher's own tick
  interval (beat sends one tick every ``DISPATCH_EVERY_SECONDS``; tick k goes to worker
  k % workers), or back to back with ``--tick-interval 0``; timed until all 10,000 runs
  exist. Each start is the real path: batch admission (slot counters locked, day and
  month windows counted), run and step rows, slots written; the Celery messages are
  captured on commit instead of sent to a broker. Tenants have their slot counter and
  current quota windows, as onboarding and the daily window roll leave them, and the
  tables are ANALYZEd, as autovacuum keeps them (not timed). Each worker parses the
  configs and opens its connection before T, as a running Celery worker has, and freezes
  its startup objects out of the garbage collector's reach, as a Celery worker process does
  (``convergence.celery.freeze_startup_objects``).
  Lateness of a run = the time its batch committed (when its message is sent) - T; its
  ``created_at``, stamped before the commit, is printed too. Printed per worker: runs
  started, time inside ticks, its own CPU time (and the garbage collector's share of it)
  and its PostgreSQL backend's, statements
  (and commits) sent and their time from send to result, by statement.
- django-celery-beat: the same schedules as ``PeriodicTask`` rows with
  ``CrontabSchedule``; ``DatabaseScheduler`` is created (its initial load is reported
  separately) and its ``tick()`` loop is run in-process exactly as ``celery beat`` runs
  it (sleeping what ``tick`` returns), with sending captured. Lateness = capture time - T.
  It creates no run rows and checks no quotas: it only decides that a task is due.
"""

import argparse
import gc
import multiprocessing
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TENANTS = 10_000
PER_TENANT = 10
TIMEZONES = ["UTC", "America/New_York", "Europe/London", "Asia/Tokyo", "Australia/Sydney"]
DUE_PIPELINE = ("example", "demo", "hello")
PROFILE = False
BATCH: dict = {}  # scheduler_tick's batch_size when --batch-size is given


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convergence.settings.test")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def percentiles(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    if not values:
        return {"p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": q[49], "p99": q[98], "max": values[-1]}


def next_boundary(*, at_least: float = 5.0) -> datetime:
    """The next whole minute at least ``at_least`` seconds away."""
    now = datetime.now(UTC)
    boundary = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if (boundary - now).total_seconds() < at_least:
        boundary += timedelta(minutes=1)
    return boundary


def sleep_until(at: datetime) -> None:
    delay = (at - datetime.now(UTC)).total_seconds()
    if delay > 0:
        time.sleep(delay)


def seed(rng: random.Random) -> list[tuple[str, str, str, str, str]]:
    """Tenants on a roomy plan and 100,000 schedules; returns (tenant, pipeline, m, h, tz)."""
    from dateutil.relativedelta import relativedelta
    from django.utils import timezone

    from scheduling.models import Schedule
    from scheduling.services.cron import cron_next
    from tenants.models import Plan, Subscription, Tenant

    now = timezone.now()
    plan = Plan.objects.create(
        code="BENCH",
        name="Bench",
        runs_per_day=1000,
        runs_per_month=100_000,
        concurrent_runs=1000,
        team_members=1,
        providers=10,
    )
    ids = [f"bench_{i:05d}" for i in range(TENANTS)]
    Tenant.objects.bulk_create(
        [
            Tenant(
                id=i,
                company_name=i,
                admin_email=f"{i}@example.com",
                status=Tenant.Status.ACTIVE,
                dataset_id=f"{i}_local",
            )
            for i in ids
        ],
        batch_size=5000,
    )
    Subscription.objects.bulk_create(
        [
            Subscription(
                tenant_id=i,
                plan=plan,
                status=Subscription.Status.ACTIVE,
                current_period_start=now - timedelta(days=3),
                current_period_end=now - timedelta(days=3) + relativedelta(months=1),
            )
            for i in ids
        ],
        batch_size=5000,
    )
    # Not-due schedules fall at any hour and minute, but not within the next 30 minutes.
    cache: dict[tuple[int, int, str], datetime] = {}
    rows, schedules = [], []
    for tenant_id in ids:
        for k in range(PER_TENANT):
            pipeline = DUE_PIPELINE[2] if k == 0 else f"{DUE_PIPELINE[2]}_{k}"
            while True:
                minute, hour, tz = rng.randrange(60), rng.randrange(24), rng.choice(TIMEZONES)
                key = (minute, hour, tz)
                if key not in cache:
                    cache[key] = cron_next(f"{minute} {hour} * * *", tz, after=now)
                if cache[key] > now + timedelta(minutes=30):
                    break
            rows.append((tenant_id, pipeline, str(minute), str(hour), tz))
            schedules.append(
                Schedule(
                    tenant_id=tenant_id,
                    provider=DUE_PIPELINE[0],
                    domain=DUE_PIPELINE[1],
                    pipeline=pipeline,
                    cron=f"{minute} {hour} * * *",
                    timezone=tz,
                    next_run_at=cache[key],
                )
            )
    Schedule.objects.bulk_create(schedules, batch_size=5000)
    # What onboarding and the daily quota-window roll leave behind: each tenant's slot
    # counter and its current day and month windows.
    from pipelines.services.quotas import slot_counters_ensure
    from tenants.models import UsageWindow
    from tenants.services.usage import day_window_bounds, month_window_bounds

    slot_counters_ensure(tenant_ids=ids)
    # The burst comes within the next few minutes, perhaps on the next day.
    windows = {
        (UsageWindow.Kind.DAY, day_window_bounds(now)),
        (UsageWindow.Kind.DAY, day_window_bounds(now + timedelta(minutes=30))),
        (UsageWindow.Kind.MONTH, month_window_bounds(now - timedelta(days=3), now)),
    }
    UsageWindow.objects.bulk_create(
        [
            UsageWindow(tenant_id=i, kind=kind, starts_at=start, ends_at=end)
            for i in ids
            for kind, (start, end) in windows
        ],
        batch_size=5000,
    )
    return rows


def _dispatch_worker(index: int, workers: int, first_tick: float, interval: float, deadline, queue):
    """One dispatcher process.

    ``interval`` > 0: the ticks beat would send every ``interval`` seconds from
    ``first_tick``, tick k taken by worker k % workers (late if that worker is still busy,
    as a queued message would be). ``interval`` 0: tick back to back.
    Reports (runs started, seconds spent inside ticks that started or claimed anything).
    """
    from django import db

    db.connections.close_all()
    _capture_enqueue()
    from django.utils import timezone

    from scheduling.services.dispatcher import scheduler_tick

    started, busy, cpu, idle, k = 0, 0.0, 0.0, 0, index
    statements = _StatementClock()
    ticks: list[tuple[float, float, int]] = []  # (start - T... as epoch, seconds, runs started)
    profiler = None
    if PROFILE:
        import cProfile

        profiler = cProfile.Profile()
    # Warm up as a long-running Celery worker is: configs parsed, connection open.
    from pipelines.configs import pipeline_config_for_tenant

    pipeline_config_for_tenant(*DUE_PIPELINE)
    db.connection.ensure_connection()
    with db.connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    statements.time_commits(db.connection)
    # As a Celery worker process does at start (worker_process_init).
    from convergence.celery import freeze_startup_objects

    freeze_startup_objects()
    collector = _CollectorClock()
    backend_cpu = 0.0
    while time.time() < deadline and idle < 3:
        if interval:
            delay = first_tick + k * interval - time.time()
            if delay > 0:
                time.sleep(delay)
            k += workers
        began_at, began, began_cpu = time.time(), time.perf_counter(), time.process_time()
        began_backend = _process_cpu(backend)
        if profiler is not None:
            profiler.enable()
        before = (statements.seconds, statements.count, dict(statements.by_kind))
        collected_before = collector.seconds
        with db.connection.execute_wrapper(statements.record):
            result = scheduler_tick(now=timezone.now(), **BATCH)  # production's unless given
        if profiler is not None:
            profiler.disable()
        if result.started or result.schedules:
            spent = time.perf_counter() - began
            busy += spent
            cpu += time.process_time() - began_cpu
            backend_cpu += _process_cpu(backend) - began_backend
            ticks.append((began_at, spent, result.started))
            idle = 0
        else:
            # Idle ticks are not counted.
            statements.seconds, statements.count, statements.by_kind = before
            collector.seconds = collected_before
            if started:
                idle += 1
        started += result.started
    print(
        f"--- worker {index}: garbage collector {collector.seconds:.3f} s inside ticks "
        f"({gc.get_freeze_count():,} startup objects frozen) ---"
    )
    print(f"--- worker {index}: statement time by statement (first words) ---")
    for kind, spent in sorted(statements.by_kind.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {spent:7.3f} s  {kind}")
    if profiler is not None:
        import pstats

        print(f"--- profile of dispatcher worker {index} (inside ticks only) ---")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    report = (index, started, busy, ticks, cpu, statements.seconds, statements.count)
    queue.put((*report, backend_cpu, _SENT))


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process on this machine has used: its PostgreSQL
    backend's, which, unlike wall time, other work on the machine does not inflate much."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _CollectorClock:
    """Time the garbage collector spends, from its start and stop callbacks."""

    def __init__(self) -> None:
        self.seconds, self._began = 0.0, 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._began


class _StatementClock:
    """Counts the statements a worker sends and the time from sending each to its result,
    commits included (at commit PostgreSQL checks the deferred foreign keys of every row
    written)."""

    def __init__(self) -> None:
        self.seconds, self.count = 0.0, 0
        self.by_kind: dict[str, float] = {}

    def time_commits(self, connection) -> None:
        commit = connection._commit

        def timed_commit():
            began = time.perf_counter()
            try:
                return commit()
            finally:
                self._add("COMMIT (deferred foreign-key checks)", time.perf_counter() - began)

        connection._commit = timed_commit

    def _add(self, kind: str, spent: float) -> None:
        self.seconds += spent
        self.count += 1
        self.by_kind[kind] = self.by_kind.get(kind, 0.0) + spent

    def record(self, execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self._add(" ".join(sql.split()[:6])[:60], time.perf_counter() - began)


_SENT: list[tuple[float, int]] = []  # (when, how many runs) per batch of messages


def _capture_enqueue() -> None:
    """Record when each batch would send its Celery messages (on commit: only then do its
    runs exist for anyone else), and how many, instead of sending them."""
    import pipelines.services.runs as runs

    def capture(*, run_ids):
        _SENT.append((time.time(), len([str(r) for r in run_ids])))

    runs.runs_enqueue = capture


def bench_ours(*, workers: int, due: int, timeout: float, interval: float, phase: float) -> dict:
    from django import db
    from django.db.models import F

    from pipelines.models import PipelineRun
    from scheduling.models import Schedule, ScheduledRun

    at = next_boundary()
    Schedule.objects.filter(pipeline=DUE_PIPELINE[2]).update(
        cron=f"{at.minute} {at.hour} * * *", timezone="UTC", next_run_at=at
    )
    db.connections.close_all()
    # The tick before T falls ``interval - phase`` seconds before it, the next ``phase`` after.
    first_tick = at.timestamp() + phase - interval if interval else at.timestamp()
    sleep_until(datetime.fromtimestamp(first_tick - 1, UTC))
    deadline = at.timestamp() + timeout
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    processes = [
        ctx.Process(
            target=_dispatch_worker, args=(i, workers, first_tick, interval, deadline, queue)
        )
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    reports = sorted(queue.get() for _ in processes)
    for process in processes:
        process.join()
    # A run is started when its batch commits (its message is sent then).
    lateness = [sent - at.timestamp() for r in reports for sent, n in r[8] for _ in range(n)]
    written = [
        delta.total_seconds()
        for delta in ScheduledRun.objects.filter(run__isnull=False)
        .annotate(late=F("run__created_at") - F("slot_at"))
        .values_list("late", flat=True)
    ]
    return {
        "due": due,
        "started": sum(r[1] for r in reports),
        "runs": PipelineRun.objects.count(),
        "seconds": max(lateness, default=float("nan")),
        "first_to_last": max(lateness, default=0.0) - min(lateness, default=0.0),
        "written_p99": percentiles(written)["p99"],
        "busy": [round(r[2], 3) for r in reports],
        "busy_total": round(sum(r[2] for r in reports), 3),
        "cpu": [round(r[4], 3) for r in reports],
        "backend_cpu": [round(r[7], 3) for r in reports],
        "sql": [(round(r[5], 3), r[6]) for r in reports],
        "started_per_worker": [r[1] for r in reports],
        "ticks": [
            [(round(t0 - at.timestamp(), 2), round(spent, 3), n) for t0, spent, n in r[3]]
            for r in reports
        ],
        **percentiles(lateness),
    }


def bench_beat(*, rows, due: int, timeout: float) -> dict:
    from django.utils import timezone
    from django_celery_beat.models import CrontabSchedule, PeriodicTask, PeriodicTasks
    from django_celery_beat.schedulers import DatabaseScheduler

    from convergence.celery import app

    now = timezone.now()
    crontabs: dict[tuple[str, str, str], CrontabSchedule] = {}
    for _, _, minute, hour, tz in rows:
        crontabs.setdefault(
            (minute, hour, tz), CrontabSchedule(minute=minute, hour=hour, timezone=tz)
        )
    CrontabSchedule.objects.bulk_create(crontabs.values(), batch_size=5000)
    PeriodicTask.objects.bulk_create(
        [
            PeriodicTask(
                name=f"{tenant_id}:{pipeline}",
                task="pipelines.run",
                crontab=crontabs[(minute, hour, tz)],
                last_run_at=now,
                args="[]",
                kwargs="{}",
            )
            for tenant_id, pipeline, minute, hour, tz in rows
        ],
        batch_size=5000,
    )
    at = next_boundary(at_least=40.0)
    due_crontab = CrontabSchedule.objects.create(
        minute=str(at.minute), hour=str(at.hour), timezone="UTC"
    )
    PeriodicTask.objects.filter(name__endswith=f":{DUE_PIPELINE[2]}").update(crontab=due_crontab)
    PeriodicTasks.update_changed()

    sent: list[float] = []

    class CapturingScheduler(DatabaseScheduler):
        """Beat's DatabaseScheduler with sending replaced by recording the time."""

        @property
        def producer(self):
            return None

        def apply_async(self, entry, producer=None, advance=True, **kwargs):
            entry = self.reserve(entry) if advance else entry
            if entry.name.endswith(f":{DUE_PIPELINE[2]}"):
                sent.append(time.time())
            self._tasks_since_sync += 1
            if self.should_sync():
                self._do_sync()

    load_began = time.time()
    scheduler = CapturingScheduler(app=app)
    scheduler.tick()  # the first tick builds the heap, as beat's first loop does
    loaded = time.time() - load_began
    sleep_until(at)
    start = at.timestamp()
    deadline = time.time() + timeout
    while len(sent) < due and time.time() < deadline:
        interval = scheduler.tick()
        if interval and interval > 0:
            time.sleep(min(interval, max(deadline - time.time(), 0)))
    lateness = [t - start for t in sent]
    elapsed = (sent[-1] - start) if sent else float("nan")
    return {
        "due": due,
        "started": len(sent),
        "loaded_entries": len(scheduler.schedule),
        "load_seconds": loaded,
        "seconds": elapsed,
        **percentiles(lateness),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="dispatcher processes")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per side, at most")
    parser.add_argument(
        "--tick-interval",
        type=float,
        default=None,
        help="seconds between ticks, as beat sends them (default: the dispatcher's own, "
        "DISPATCH_EVERY_SECONDS); 0 ticks back to back",
    )
    parser.add_argument(
        "--phase",
        type=float,
        default=None,
        help="seconds from T to the first tick after it (default: random in [0, interval))",
    )
    parser.add_argument("--skip-beat", action="store_true", help="run our side only")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="schedules per batch (default: the dispatcher's own, DISPATCH_BATCH_SIZE)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile each dispatcher worker (cProfile, inside ticks)",
    )
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    from benchmarks.bench_db import prepare_database

    prepare_database(url)
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    rng = random.Random(20240310)
    t = time.time()
    rows = seed(rng)
    due = TENANTS
    from django.db import connection

    with connection.cursor() as cursor:  # planner statistics, as autovacuum keeps them
        cursor.execute("ANALYZE")
    print(f"seeded {len(rows):,} schedules over {TENANTS:,} tenants in {time.time() - t:.1f}s")
    from scheduling.services.system_jobs import DISPATCH_EVERY_SECONDS

    interval = DISPATCH_EVERY_SECONDS if args.tick_interval is None else args.tick_interval
    phase = args.phase if args.phase is not None else random.Random().uniform(0, interval)
    global PROFILE
    PROFILE = args.profile
    if args.batch_size:
        BATCH["batch_size"] = args.batch_size
    print(f"ticks every {interval:g} s; the first tick after T comes {phase:.2f} s after it")
    ours = bench_ours(
        workers=args.workers, due=due, timeout=args.timeout, interval=interval, phase=phase
    )
    print(f"ours: {ours}")
    _print_ours(ours, interval=interval)
    if args.skip_beat:
        return
    beat = bench_beat(rows=rows, due=due, timeout=args.timeout)
    print(f"beat: {beat}")
    print()
    print(f"| {'':38} | {'scheduling dispatcher':>22} | {'celery-beat DatabaseScheduler':>30} |")
    print(f"|{'-' * 40}|{'-' * 24}|{'-' * 32}|")
    lines = [
        ("due slots started", f"{ours['started']:,} / {due:,}", f"{beat['started']:,} / {due:,}"),
        ("time to start all due (s)", _total(ours, due), _total(beat, due)),
        ("throughput (starts/s)", _rate(ours), _rate(beat)),
        ("lateness p50 (s)", f"{ours['p50']:.2f}", f"{beat['p50']:.2f}"),
        ("lateness p99 (s)", f"{ours['p99']:.2f}", f"{beat['p99']:.2f}"),
        ("lateness max (s)", f"{ours['max']:.2f}", f"{beat['max']:.2f}"),
        ("startup load (s)", "none (claims by index)", f"{beat['load_seconds']:.1f}"),
    ]
    for label, a, b in lines:
        print(f"| {label:38} | {a:>22} | {b:>30} |")


def _print_ours(ours: dict, *, interval: float) -> None:
    """Our side in lines: what the issue's targets are measured on."""
    for i, (n, spent, cpu, backend_cpu, (sql, count), ticks) in enumerate(
        zip(
            ours["started_per_worker"],
            ours["busy"],
            ours["cpu"],
            ours["backend_cpu"],
            ours["sql"],
            ours["ticks"],
            strict=True,
        )
    ):
        shown = ", ".join(f"+{t:.2f}s: {s:.3f}s/{k}" for t, s, k in ticks)
        print(
            f"  worker {i}: started {n:,} in {spent:.3f} s inside ticks; its own CPU "
            f"{cpu:.3f} s, its PostgreSQL backend's CPU {backend_cpu:.3f} s; {count} "
            f"statements and commits, {sql:.3f} s from send to result  [{shown}]"
        )
    load = os.getloadavg()
    print(
        f"  CPU, all workers and their backends: {sum(ours['cpu']):.3f} s + "
        f"{sum(ours['backend_cpu']):.3f} s = {sum(ours['cpu']) + sum(ours['backend_cpu']):.3f} s"
    )
    print(
        f"  dispatcher time, all workers: {ours['busy_total']:.3f} s (target < 1 s); "
        f"lateness (batch committed) p50 {ours['p50']:.2f} s, p99 {ours['p99']:.2f} s "
        f"(target < 5 s; by the runs' created_at, p99 {ours['written_p99']:.2f} s) "
        f"with ticks every {interval:g} s; first to last run {ours['first_to_last']:.2f} s; "
        f"started {ours['started']:,} / {ours['due']:,}; load average {load[0]:.2f}"
    )


def _total(result: dict, due: int) -> str:
    if result["started"] >= due:
        return f"{result['seconds']:.1f}"
    if not result["started"]:
        return f"none in {result['seconds']:.0f}"
    projected = due / (result["started"] / result["seconds"])
    return f"unfinished; ~{projected:,.0f} projected"


def _rate(result: dict) -> str:
    if not result["started"] or result["seconds"] != result["seconds"]:
        return "n/a"
    return f"{result['started'] / max(result['seconds'], 1e-9):,.0f}"


if __name__ == "__main__":
    main()
