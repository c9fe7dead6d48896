"""Benchmark: FOCUS normalization of a scaled-up AWS CUR: pipeline, DuckDB, focus-converter.

Usage, from the project root:

    .venv/bin/python benchmarks/focus_normalize.py [--rows 1000000] [--runs 3] [--skip-converter]
    .venv/bin/python benchmarks/focus_normalize.py --history [--history-rows 100000]

``--history`` runs only the history case (``history_bench``): twelve monthly CURs loaded in
turn, each run replacing its billing period, then month 6 restated; it prints each load's
time and the restatement's, which must stay within 1.5x a monthly load.

``--runs N`` repeats everything below N times on the same file (a fresh emulator and tenant
each time) and then prints the best and worst of every figure and ratio.

The AWS CUR sample (``pipelines/tests/data/aws_cur_sample.csv``, 1,281 rows) is repeated
to ``--rows`` rows into a gzip CSV in a temp dir, each copy's ``identity/LineItemId``
suffixed so no two rows are the same. Then, in one run, one after the other (never two at
once, so none shares the CPUs or memory with another):

- pipeline: a fresh ephemeral bqemulator on a free port (started as ``make run`` starts it,
  through ``devtools.emulator_fixes``), a tenant onboarded on the SCALE plan, and the real
  ``aws/cost/focus`` pipeline (file.load, focus.normalize, dq.check, focus.anomalies)
  started with ``pipeline_run_start`` and executed in-process with ``pipeline_run_execute``,
  exactly as a worker runs it. Timed whole, and per step from the StepRun rows. Peak RSS:
  the emulator process's plus this (Django) process's, each its own high-water mark
  (VmHWM), so the sum is an upper bound of the two together. A diagnostic follows on the
  same emulator: the FOCUS statement with every ``PARSE_NUMERIC(x)`` written
  ``CAST(x AS NUMERIC)``.
- DuckDB (a child process): the same file read into an in-memory DuckDB table with the same
  all-VARCHAR schema and column names, then the same FOCUS statement, translated to DuckDB
  by bqemulator's own translator with the emulator's translation fixes and session settings
  (the statement the emulator executes), with DuckDB's default settings and no memory cap.
  Diagnostics: the ``CAST(x AS NUMERIC)`` statement, the statement with DECIMAL(18, 9) for
  NUMERIC, one copy of the raw table, and the load and the statement again with
  ``preserve_insertion_order`` off, as the emulator runs loads and inserts (its ratios are
  printed beside the targets'). Peak RSS from the child's rusage.
- focus-converter 1.0.0 (the FinOps Foundation's converter), installed from PyPI into its
  own virtualenv (kept in the temp dir between runs, ``--converter-venv``) with
  ``multimethod<2`` and ``click<8.2`` pinned, run as ``focus-converter convert --provider
  aws-cur`` on the same file, uncompressed first (it reads CSV, not gzip; the gunzip is not
  timed). Peak RSS from the child's rusage.

The FOCUS tables of the pipeline and DuckDB must hold ``--rows`` rows and the source file's
cost total, to the cent. The control-plane database is a temp SQLite file unless
``DATABASE_URL`` is set (a tenant is then onboarded there).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLE = ROOT / "pipelines" / "tests" / "data" / "aws_cur_sample.csv"
PROJECT = "convergence-bench"
CENT = Decimal("0.01")
CONVERTER = "focus-converter==1.0.0"
# Without these pins focus-converter 1.0.0 does not start (newer multimethod and click
# changed APIs it uses).
CONVERTER_PINS = ("multimethod<2", "click<8.2")


@dataclass(frozen=True)
class Timing:
    label: str
    rows: int
    seconds: float
    peak_mb: float | None = None

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else float("inf")


def cur_scale(
    target: Path, rows: int, *, months: int = 0, restated: Decimal | None = None
) -> Decimal:
    """Write ``rows`` rows of the sample, repeated, to a gzip CSV; return their cost total.

    ``months``: every date moved that many months on (a later billing period); ``restated``:
    the first line's cost raised by that amount (a restatement changes one line)."""
    from pipelines.tests.history import month_shift

    with SAMPLE.open(newline="", encoding="utf-8-sig") as handle:
        text = handle.read()
    reader = csv.reader(io.StringIO(month_shift(text, months) if months else text))
    header = next(reader)
    sample = list(reader)
    id_index = header.index("identity/LineItemId")
    cost_index = header.index("lineItem/UnblendedCost")
    if restated is not None:
        sample[0][cost_index] = str(Decimal(sample[0][cost_index] or 0) + restated)
    costs = [Decimal(r[cost_index]) if r[cost_index] else Decimal(0) for r in sample]
    copies, rest = divmod(rows, len(sample))
    total = sum(costs, Decimal(0)) * copies + sum(costs[:rest], Decimal(0))
    # Level 1: the file is written once per run and read back at once; size hardly matters.
    with gzip.open(target, "wt", newline="", encoding="utf-8", compresslevel=1) as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        for copy in range(copies + (1 if rest else 0)):
            chunk = sample if copy < copies else sample[:rest]
            if copy == 0:
                writer.writerows(chunk)
                continue
            suffix = f"-{copy}"
            for row in chunk:
                row = list(row)
                row[id_index] += suffix
                writer.writerow(row)
    return total


def django_setup(workdir: Path, imports: Path, endpoint: str) -> None:
    """Point Django at a throwaway control plane, keyring, broker and the fresh emulator."""
    var_dir = workdir / "var"
    var_dir.mkdir()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convergence.settings.test")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # Set here, before settings load, so .env (read without overwrite) cannot point the
    # benchmark at the developer's var/ database, keyring or emulator.
    os.environ["CONVERGENCE_VAR_DIR"] = str(var_dir)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{var_dir / 'bench.sqlite3'}")
    os.environ["KMS_BACKEND"] = "local"
    os.environ["KMS_LOCAL_KEYRING_PATH"] = str(var_dir / "keyring.json")
    os.environ["PIPELINE_LOCAL_FILES_DIR"] = str(imports)
    os.environ["WAREHOUSE_ENDPOINT"] = endpoint
    os.environ["WAREHOUSE_PROJECT"] = PROJECT
    # Loading ~0.8 GB through REST can outlast the 60 s default on a busy machine.
    os.environ["WAREHOUSE_TIMEOUT_SECONDS"] = "3600"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def peak_rss_mb(pid: int | str = "self") -> float:
    """A live process's peak resident set (VmHWM) in MB; Linux."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def rss_mb(pid: int | str) -> float:
    """A live process's resident set now (VmRSS) in MB; 0 once it is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0.0
    return next((int(x.split()[1]) / 1024 for x in lines if x.startswith("VmRSS:")), 0.0)


class RssSampler:
    """Samples the summed RSS of some processes every 50 ms; ``peak_mb`` is the largest sum."""

    def __init__(self, *pids: int | str) -> None:
        import threading

        self.pids, self.peak_mb = pids, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_mb = max(self.peak_mb, sum(rss_mb(p) for p in self.pids))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def cast_numeric_sql(bq_sql: str) -> str:
    """The statement with every ``PARSE_NUMERIC(x)`` written ``CAST(x AS NUMERIC)``."""
    import sqlglot
    from sqlglot import exp

    def rewrite(node):
        if isinstance(node, exp.ParseNumeric):
            return exp.Cast(this=node.this.copy(), to=exp.DataType.build("NUMERIC"))
        return node

    return sqlglot.parse_one(bq_sql, read="bigquery").transform(rewrite).sql(dialect="bigquery")


def bench_tenant(tenant_id: str):
    """A tenant onboarded on the SCALE plan, as a customer would be."""
    from tenants.services.audit import Actor
    from tenants.services.onboarding import tenant_onboard

    return tenant_onboard(
        tenant_id=tenant_id,
        company_name="Benchmark Ltd",
        admin_email=f"admin+{tenant_id}@example.com",
        plan_code="SCALE",
        actor=Actor.system("benchmark"),
    )


def aws_run_start(tenant_id: str, source_file: str):
    """An aws/cost/focus run admitted for ``source_file``, not sent to a worker."""
    from pipelines.services.runs import pipeline_run_start

    return pipeline_run_start(
        tenant_id=tenant_id,
        provider="aws",
        domain="cost",
        pipeline="focus",
        parameters={"source_file": source_file},
        enqueue=False,
    )


def pipeline_bench(
    tenant_id: str, source: Path, rows: int, emulator_pid: int
) -> tuple[list[Timing], int, Decimal, Decimal, float]:
    """Run aws/cost/focus on ``source``; return timings, FOCUS row count, cost totals and
    the sampled peak of emulator + Django RSS."""
    from focus.model import focus_table_columns
    from focus.normalize import focus_sql
    from pipelines.models import RunStatus
    from pipelines.services.runs import pipeline_run_execute
    from warehouse.bigquery import get_warehouse
    from warehouse.tables import DQ_RESULTS

    onboarded = bench_tenant(tenant_id)
    run = aws_run_start(tenant_id, source.name)
    with RssSampler(emulator_pid, "self") as sampler:
        started = time.perf_counter()
        run = pipeline_run_execute(run_id=run.pk)
        total_seconds = time.perf_counter() - started
    # Read now: the diagnostic below runs on the same emulator.
    peaks = {"emulator": peak_rss_mb(emulator_pid), "Django": peak_rss_mb()}
    peak_mb = sum(peaks.values())
    print(
        "peak RSS: "
        + ", ".join(f"{k} {v:,.0f} MB" for k, v in peaks.items())
        + f"; sum of the two sampled every 50 ms during the run: {sampler.peak_mb:,.0f} MB",
        flush=True,
    )

    steps = {s.step_id: s for s in run.steps.all()}
    if run.status != RunStatus.COMPLETED:
        details = {k: (s.status, s.error_message) for k, s in steps.items()}
        sys.exit(f"pipeline run {run.status}: {run.error_message} {details}")
    warehouse = get_warehouse()
    dataset = onboarded.dataset_id
    dq = warehouse.query(
        f"SELECT check_name, status FROM {warehouse.quoted(dataset, DQ_RESULTS)} "
        "WHERE pipeline_logging_id = @run",
        {"run": str(run.pk)},
    ).rows
    if not dq or {r["status"] for r in dq} != {"PASS"}:
        sys.exit(f"DQ did not pass: {dq}")
    if "cost_total" not in {r["check_name"].split(":")[0] for r in dq}:
        sys.exit(f"no cost_total check among {dq}")
    totals_sql = "SELECT COUNT(*) AS n, SUM(BilledCost) AS total FROM {}"
    focus = warehouse.query(totals_sql.format(warehouse.quoted(dataset, "aws_cost_focus"))).rows[0]

    # The run's raw table was its own staging, dropped when it ended: loaded again here.
    from warehouse.files import csv_header_columns

    header = csv_header_columns(str(source))
    warehouse.load_file(source, dataset, "aws_cur_raw", columns=header, write_mode="overwrite")
    columns = [c.name for c in warehouse.table_columns(dataset, "aws_cur_raw")]
    cast_sql = cast_numeric_sql(
        focus_sql(
            "aws",
            source=warehouse.table_ref(dataset, "aws_cur_raw"),
            destination=warehouse.table_ref(dataset, "aws_cost_focus_cast"),
            source_columns=columns,
        )
    )
    # As the pipeline does: the FOCUS table is created with its schema, then filled.
    warehouse.table_create(dataset, "aws_cost_focus_cast", focus_table_columns("aws"), replace=True)
    started = time.perf_counter()
    warehouse.query(cast_sql)
    cast_seconds = time.perf_counter() - started
    cast = warehouse.query(totals_sql.format(warehouse.quoted(dataset, "aws_cost_focus_cast")))
    if cast.rows[0]["n"] != focus["n"]:
        sys.exit(f"CAST variant on the emulator: {cast.rows[0]['n']} rows, not {focus['n']}")

    def step(step_id: str, label: str) -> Timing:
        row = steps[step_id]
        return Timing(label, rows, (row.ended_at - row.started_at).total_seconds())

    timings = [
        Timing("pipeline: whole run", rows, total_seconds, peak_mb),
        step("load_cur", "  step file.load"),
        step("normalize_focus", "  step focus.normalize"),
        step("check_focus", "  step dq.check"),
        step("replace_periods", "  step focus.replace_periods"),
        step("detect_anomalies", "  step focus.anomalies"),
        Timing("  emulator: CAST AS NUMERIC (diagnostic)", rows, cast_seconds),
    ]
    cast_total = Decimal(cast.rows[0]["total"])
    return timings, focus["n"], Decimal(focus["total"]), cast_total, sampler.peak_mb


def duckdb_session():
    """An in-memory DuckDB session set up as the emulator's engine sets up its own (UTC,
    the IN-list fix's setting, its Python UDFs), with the ``bench`` dataset's schema."""
    import duckdb
    from bqemulator.sql.builtin_udfs import register_builtin_udfs

    conn = duckdb.connect()
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("SET disabled_optimizers = 'in_clause'")
    register_builtin_udfs(conn)
    conn.execute(f'CREATE SCHEMA "{PROJECT}__bench"')
    return conn


def duckdb_focus_ddl(provider: str) -> str:
    """The column list of ``provider``'s FOCUS table in DuckDB types: the pipeline creates
    each FOCUS table with its schema, then inserts into it."""
    from focus.model import focus_table_columns

    types = {"NUMERIC": "DECIMAL(38, 9)", "FLOAT64": "DOUBLE", "TIMESTAMP": "TIMESTAMPTZ"}
    return ", ".join(
        f'"{c.name}" {types.get(c.type, "JSON" if c.type == "JSON" else "VARCHAR")}'
        for c in focus_table_columns(provider)
    )


def duckdb_load_cur(conn, table: str, source: Path, columns: list[str]) -> float:
    """Read the CUR file ``source`` into ``bench.<table>`` as file.load's all-STRING table
    with ``columns`` as its names; returns the seconds it took."""
    started = time.perf_counter()
    conn.execute(
        f'CREATE TABLE "{PROJECT}__bench".{table} AS '
        "SELECT * FROM read_csv(?, all_varchar = true, header = true, names = ?)",
        [str(source), columns],
    )
    return time.perf_counter() - started


def duckdb_bench(source: Path, rows: int) -> dict:
    """In a child process: load ``source`` into in-memory DuckDB and run the emulator's
    translation of focus_sql (and its diagnostics); return figures as JSON-ready values."""
    import structlog
    from bqemulator.sql.table_rewriter import rewrite_table_refs
    from bqemulator.sql.translator import SQLTranslator

    from devtools.emulator_fixes import (
        numeric_keeps_nine_decimals,
        numeric_parses_fast_where_it_fits,
    )
    from focus.normalize import focus_sql
    from warehouse.files import csv_header_columns

    # The emulator's translation of text to NUMERIC, as it runs in the emulator: nine
    # decimals, parsed as DECIMAL(18, 9) first where the value fits.
    numeric_keeps_nine_decimals()
    numeric_parses_fast_where_it_fits()
    # The translator logs every call at debug level; the emulator itself runs at warning.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    columns = [c.name for c in csv_header_columns(source)]
    schema = f'"{PROJECT}__bench"'
    conn = duckdb_session()

    load_seconds = duckdb_load_cur(conn, "aws_cur_raw", source, columns)

    ddl = duckdb_focus_ddl("aws")

    def translated(destination: str, cast: bool = False) -> str:
        conn.execute(f"CREATE TABLE {schema}.{destination} ({ddl})")
        bq_sql = focus_sql(
            "aws",
            source=f"{PROJECT}.bench.aws_cur_raw",
            destination=f"{PROJECT}.bench.{destination}",
            source_columns=columns,
        )
        if cast:
            bq_sql = cast_numeric_sql(bq_sql)
        # The emulator's own chain for a query job: translate, then qualify table names.
        return rewrite_table_refs(SQLTranslator().translate(bq_sql).unwrap(), PROJECT)

    def timed(sql: str) -> float:
        started = time.perf_counter()
        conn.execute(sql)
        return time.perf_counter() - started

    started = time.perf_counter()
    duckdb_sql = translated("aws_cost_focus")
    translate_seconds = time.perf_counter() - started
    normalize_seconds = timed(duckdb_sql)
    count, total = conn.execute(
        f"SELECT COUNT(*), SUM(BilledCost) FROM {schema}.aws_cost_focus"
    ).fetchone()
    cast_seconds = timed(translated("aws_cost_focus_cast", cast=True))
    cast_count, cast_total = conn.execute(
        f"SELECT COUNT(*), SUM(BilledCost) FROM {schema}.aws_cost_focus_cast"
    ).fetchone()
    # What one plain copy of the raw table costs (the emulator's time-travel snapshot after
    # a load was one, until writes stopped making copies).
    copy_seconds = timed(f"CREATE TABLE {schema}.raw_copy AS SELECT * FROM {schema}.aws_cur_raw")
    # Not the same SQL, a diagnostic: NUMERIC is DECIMAL(38, 9), and DuckDB casts text to
    # 128-bit decimals far more slowly than to 64-bit ones; DECIMAL(18, 9) shows how much
    # of the normalization that is.
    narrow_sql = translated("aws_cost_focus_narrow")
    narrow_seconds = timed(narrow_sql.replace("DECIMAL(38, 9)", "DECIMAL(18, 9)"))
    # Not DuckDB's default, a diagnostic: the emulator loads and inserts with
    # preserve_insertion_order off (a BigQuery table has no row order); the same here.
    conn.execute("SET preserve_insertion_order = false")
    unordered_load_seconds = duckdb_load_cur(conn, "aws_cur_raw_unordered", source, columns)
    unordered_seconds = timed(translated("aws_cost_focus_unordered"))
    conn.close()
    return {
        "load": load_seconds,
        "normalize": normalize_seconds,
        "cast": cast_seconds,
        "narrow": narrow_seconds,
        "copy": copy_seconds,
        "unordered_load": unordered_load_seconds,
        "unordered": unordered_seconds,
        "translate": translate_seconds,
        "count": count,
        "total": str(total),
        "cast_count": cast_count,
        "cast_total": str(cast_total),
    }


def child_run(command: list[str], **kwargs) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run a child to its end: wall seconds, its peak RSS in MB (rusage), and its output."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)
    # communicate() would reap the child first; read the pipes, then wait4 for its rusage.
    out, err = process.stdout.read(), process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    result = subprocess.CompletedProcess(command, process.returncode, out, err)
    return seconds, usage.ru_maxrss / 1024, result


def converter_venv(path: Path) -> Path:
    """focus-converter 1.0.0 in its own virtualenv (made once, reused while it exists)."""
    binary = path / "bin" / "focus-converter"
    if not binary.exists():
        print(f"installing {CONVERTER} into {path} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run(
            [
                str(path / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                CONVERTER,
                *CONVERTER_PINS,
            ],
            check=True,
        )
    return binary


def converter_bench(binary: Path, source: Path, workdir: Path, rows: int) -> Timing:
    """focus-converter on the same rows, as CSV (it does not read gzip)."""
    plain = workdir / "converter" / "aws_cur.csv"
    plain.parent.mkdir(exist_ok=True)
    with gzip.open(source, "rb") as packed, plain.open("wb") as out:
        shutil.copyfileobj(packed, out, 1024 * 1024)
    export = workdir / "converter" / "out"
    shutil.rmtree(export, ignore_errors=True)  # the last run's output
    seconds, peak_mb, result = child_run(
        [
            str(binary),
            "convert",
            "--provider",
            "aws-cur",
            "--data-path",
            str(plain),
            "--data-format",
            "csv",
            "--export-path",
            str(export),
            # Only the FOCUS columns, as the pipeline's FOCUS table holds.
            "--no-export-include-source-columns",
        ]
    )
    if result.returncode != 0:
        sys.exit(f"focus-converter failed ({result.returncode}): {result.stderr.decode()[-2000:]}")
    outputs = list(export.rglob("*.parquet"))
    if not outputs:
        sys.exit(f"focus-converter wrote no Parquet file: {result.stdout.decode()[-2000:]}")
    import duckdb

    written = (
        duckdb.connect()
        .execute("SELECT COUNT(*) FROM read_parquet(?)", [[str(p) for p in outputs]])
        .fetchone()[0]
    )
    if written != rows:
        sys.exit(f"focus-converter wrote {written:,} rows, not {rows:,}")
    plain.unlink()
    return Timing("focus-converter 1.0.0 (CSV -> FOCUS Parquet)", rows, seconds, peak_mb)


def table_print(timings: list[Timing]) -> None:
    width = max(len(t.label) for t in timings)
    print(f"| {'':<{width}} | {'rows':>9} | {'seconds':>8} | {'rows/s':>9} | {'peak RSS MB':>11} |")
    print(f"|{'-' * (width + 2)}|{'-' * 10}:|{'-' * 9}:|{'-' * 10}:|{'-' * 12}:|")
    for t in timings:
        peak = f"{t.peak_mb:,.0f}" if t.peak_mb is not None else ""
        print(
            f"| {t.label:<{width}} | {t.rows:>9,} | {t.seconds:>8.2f} | {t.rate:>9,.0f} "
            f"| {peak:>11} |"
        )


@dataclass
class RunResult:
    """One run's figures: every timing, the totals to compare, the sampled RSS peak."""

    timings: list[Timing]
    ratios: dict[str, float]
    sampled_mb: float
    failures: list[str]


def run_once(
    *, rows: int, source: Path, expected: Decimal, port: int, workdir: Path, converter
) -> RunResult:
    """One run: the pipeline on a fresh emulator, then DuckDB, then focus-converter."""
    import warehouse.bigquery
    from devtools.emulator import emulator_start, emulator_wait

    # A fresh tenant per run, its own copy of the file in its own imports folder.
    tenant_id = f"bench_{uuid.uuid4().hex[:8]}"
    folder = workdir / "imports" / tenant_id
    folder.mkdir(parents=True)
    tenant_source = folder / source.name
    os.link(source, tenant_source)
    # Each run starts its own emulator on the same port: no client of the last one is reused.
    warehouse.bigquery._instances.clear()
    process = emulator_start(
        project=PROJECT, rest_port=port, log_path=workdir / f"emulator-{tenant_id}.log"
    )
    try:
        emulator_wait(f"http://127.0.0.1:{port}", process=process)
        pipeline, p_count, p_total, p_cast_total, sampled_mb = pipeline_bench(
            tenant_id, tenant_source, rows, process.pid
        )
    finally:
        # Stopped before DuckDB runs so the two sides do not share the CPUs or memory.
        process.terminate()
        process.wait(timeout=60)

    _, duck_peak, result = child_run(
        [sys.executable, __file__, "--rows", str(rows), "--duckdb-child", str(source)],
        cwd=ROOT,
    )
    if result.returncode != 0:
        sys.exit(f"DuckDB child failed: {result.stderr.decode()[-3000:]}")
    duck = json.loads(result.stdout.decode().strip().splitlines()[-1])
    converted = [converter_bench(converter, source, workdir, rows)] if converter else []

    duck_timings = [
        Timing("duckdb: load CSV.gz", rows, duck["load"]),
        Timing("duckdb: normalize (same SQL)", rows, duck["normalize"]),
        Timing("duckdb: load + normalize", rows, duck["load"] + duck["normalize"], duck_peak),
        Timing("  duckdb: CAST AS NUMERIC (diagnostic)", rows, duck["cast"]),
        Timing("  duckdb: DECIMAL(18, 9) (diagnostic)", rows, duck["narrow"]),
        Timing("  duckdb: raw table copy (diagnostic)", rows, duck["copy"]),
        Timing("  duckdb: load, insertion order off (diagnostic)", rows, duck["unordered_load"]),
        Timing("  duckdb: normalize, insertion order off (diagnostic)", rows, duck["unordered"]),
    ]
    d_count, d_total = duck["count"], Decimal(duck["total"])
    print(f"FOCUS rows: pipeline {p_count:,}, duckdb {d_count:,} (expected {rows:,})")
    print(
        f"SUM(BilledCost): pipeline {p_total.quantize(CENT)}, duckdb {d_total.quantize(CENT)}, "
        f"source file {expected.quantize(CENT)}; CAST variant: emulator "
        f"{p_cast_total.quantize(CENT)}, duckdb {Decimal(duck['cast_total']).quantize(CENT)}"
    )
    print(f"translation (focus_sql -> DuckDB SQL): {duck['translate'] * 1000:.0f} ms")
    whole, load, normalize = pipeline[0], pipeline[1], pipeline[2]
    ratios = {
        "file.load / duckdb load (target <= 1.5x)": load.seconds / duck["load"],
        "focus.normalize / duckdb normalize (target <= 2x)": normalize.seconds / duck["normalize"],
        "whole run / duckdb load + normalize": whole.seconds / (duck["load"] + duck["normalize"]),
        "file.load / duckdb load, insertion order off (diagnostic)": (
            load.seconds / duck["unordered_load"]
        ),
        "focus.normalize / duckdb normalize, insertion order off (diagnostic)": (
            normalize.seconds / duck["unordered"]
        ),
    }
    if converted:
        ratios["focus-converter / whole run, x faster (target >= 5x)"] = (
            converted[0].seconds / whole.seconds
        )
        ratios["peak RSS, focus-converter / pipeline"] = converted[0].peak_mb / whole.peak_mb

    failures = []
    if not p_count == d_count == duck["cast_count"] == rows:
        failures.append("row counts differ")
    totals = {p_total, d_total, p_cast_total, Decimal(duck["cast_total"]), expected}
    if len({t.quantize(CENT) for t in totals}) != 1:
        failures.append("cost totals differ")
    return RunResult(pipeline + duck_timings + converted, ratios, sampled_mb, failures)


def run_print(result: RunResult) -> None:
    print()
    table_print(result.timings)
    print()
    width = max(len(k) for k in result.ratios) + 1
    for name, value in result.ratios.items():
        print(f"{name + ':':<{width}} {value:.2f}x")
    whole = result.timings[0]
    print(
        f"pipeline peak RSS (emulator + Django): {whole.peak_mb:,.0f} MB as the sum of each "
        f"one's peak, {result.sampled_mb:,.0f} MB sampled together (target <= 1,000 MB)"
    )


def runs_summary(results: list[RunResult]) -> None:
    """Best and worst of the runs, per timing and per ratio."""
    print()
    print(f"best and worst of {len(results)} runs (seconds; peak RSS MB in brackets)")
    width = max(len(t.label) for t in results[0].timings)
    print(f"| {'':<{width}} | {'best':>18} | {'worst':>18} |")
    print(f"|{'-' * (width + 2)}|{'-' * 19}:|{'-' * 19}:|")
    for index, first in enumerate(results[0].timings):
        runs = [r.timings[index] for r in results]
        cells = []
        for t in (min(runs, key=lambda t: t.seconds), max(runs, key=lambda t: t.seconds)):
            peak = f" ({t.peak_mb:,.0f})" if t.peak_mb is not None else ""
            cells.append(f"{t.seconds:.2f}{peak}")
        print(f"| {first.label:<{width}} | {cells[0]:>18} | {cells[1]:>18} |")
    print()
    for name in results[0].ratios:
        values = [r.ratios[name] for r in results]
        print(f"{name}: {min(values):.2f}x to {max(values):.2f}x")
    peaks = [r.timings[0].peak_mb for r in results]
    print(
        f"pipeline peak RSS (emulator + Django, sum of peaks): {min(peaks):,.0f} to "
        f"{max(peaks):,.0f} MB (target <= 1,000 MB)"
    )


def history_bench(*, rows: int, months: int, port: int, workdir: Path) -> list[str]:
    """The history case: ``months`` monthly CUR files of ``rows`` rows each loaded in turn
    (one aws/cost/focus run each, every run replacing its month), then month 6 restated (one
    line changed). Prints each run's time and its focus.replace_periods step; returns the
    failures (a month lost or wrong to the cent, or the restatement dearer than 1.5x a load)."""
    import warehouse.bigquery
    from devtools.emulator import emulator_start, emulator_wait
    from pipelines.models import RunStatus
    from pipelines.services.runs import pipeline_run_execute

    tenant_id = f"bench_{uuid.uuid4().hex[:8]}"
    folder = workdir / "imports" / tenant_id
    folder.mkdir(parents=True)
    files = []
    for month in range(months):
        path = folder / f"cur-{month + 1:02d}.csv.gz"
        files.append((path, cur_scale(path, rows, months=month)))
    restated_month = min(6, months)
    restated = folder / f"cur-{restated_month:02d}-restated.csv.gz"
    restated_total = cur_scale(restated, rows, months=restated_month - 1, restated=Decimal("12.34"))
    warehouse.bigquery._instances.clear()
    process = emulator_start(
        project=PROJECT, rest_port=port, log_path=workdir / f"emulator-{tenant_id}.log"
    )
    timings: list[Timing] = []
    try:
        emulator_wait(f"http://127.0.0.1:{port}", process=process)
        onboarded = bench_tenant(tenant_id)
        for label, path in [
            *((f"load month {n + 1:2d}", p) for n, (p, _) in enumerate(files)),
            (f"restate month {restated_month}", restated),
        ]:
            run = aws_run_start(tenant_id, path.name)
            started = time.perf_counter()
            run = pipeline_run_execute(run_id=run.pk)
            seconds = time.perf_counter() - started
            if run.status != RunStatus.COMPLETED:
                sys.exit(f"{label}: run {run.status}: {run.error_message}")
            step = run.steps.get(step_id="replace_periods")
            replace = (step.ended_at - step.started_at).total_seconds()
            timings.append(Timing(label, rows, seconds))
            timings.append(Timing("  of it focus.replace_periods", rows, replace))
            print(f"{label}: {seconds:.2f} s (replace {replace:.2f} s)", flush=True)
        wh = warehouse.bigquery.get_warehouse()
        found = wh.query(
            "SELECT FORMAT_TIMESTAMP('%Y-%m', BillingPeriodStart) AS month, COUNT(*) AS n, "
            "SUM(BilledCost) AS total FROM "
            f"{wh.quoted(onboarded.dataset_id, 'aws_cost_focus')} GROUP BY month ORDER BY month"
        ).rows
    finally:
        process.terminate()
        process.wait(timeout=60)

    print()
    table_print(timings)
    failures = []
    expected = [total for _, total in files]
    expected[restated_month - 1] = restated_total
    if [r["n"] for r in found] != [rows] * months:
        failures.append(f"months held: {[(r['month'], r['n']) for r in found]}")
    if [Decimal(r["total"]).quantize(CENT) for r in found] != [t.quantize(CENT) for t in expected]:
        failures.append("a month's total differs from its file's")
    loads = [t.seconds for t in timings[0 : 2 * months : 2]]
    restatement = timings[-2].seconds
    mean = sum(loads) / len(loads)
    ratio = restatement / mean
    print(
        f"\n{months} months held, {rows:,} rows each, totals to the cent: "
        f"{'yes' if not failures else 'NO'}"
    )
    print(
        f"loads: first {loads[0]:.2f} s, last {loads[-1]:.2f} s, mean {mean:.2f} s; "
        f"restatement {restatement:.2f} s = {ratio:.2f}x the mean load (target <= 1.5x)"
    )
    if ratio > 1.5:
        failures.append(f"the restatement took {ratio:.2f}x a monthly load")
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1, help="runs on the same file; best/worst")
    parser.add_argument("--skip-converter", action="store_true")
    parser.add_argument(
        "--converter-venv",
        type=Path,
        default=Path(tempfile.gettempdir()) / "convergence-focus-converter-1.0.0",
    )
    parser.add_argument("--duckdb-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--history",
        action="store_true",
        help="only the history case: --history-months monthly files of --history-rows rows "
        "loaded in turn, then month 6 restated",
    )
    parser.add_argument("--history-rows", type=int, default=100_000)
    parser.add_argument("--history-months", type=int, default=12)
    args = parser.parse_args()
    if args.rows < 1 or args.runs < 1:
        parser.error("--rows and --runs must be positive")
    if args.duckdb_child:
        print(json.dumps(duckdb_bench(args.duckdb_child, args.rows)))
        return

    from devtools.emulator import free_port

    workdir = Path(tempfile.mkdtemp(prefix="focus-bench-"))
    if args.history:
        try:
            port = free_port()
            os.environ["BQEMU_UPLOAD_STAGING_DIR"] = str(workdir / "uploads")
            django_setup(workdir, workdir / "imports", f"http://127.0.0.1:{port}")
            print(f"history case (load average {load_average()})", flush=True)
            failures = history_bench(
                rows=args.history_rows, months=args.history_months, port=port, workdir=workdir
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        print(f"load average at the end: {load_average()}")
        if failures:
            sys.exit("FAILED: " + "; ".join(failures))
        return
    results: list[RunResult] = []
    try:
        converter = None if args.skip_converter else converter_venv(args.converter_venv)
        source = workdir / "aws_cur_scaled.csv.gz"
        started = time.perf_counter()
        expected = cur_scale(source, args.rows)
        print(
            f"scaled sample to {args.rows:,} rows in {time.perf_counter() - started:.1f} s "
            f"({source.stat().st_size / 1e6:.0f} MB gzip); cost total {expected}",
            flush=True,
        )
        port = free_port()
        os.environ["BQEMU_UPLOAD_STAGING_DIR"] = str(workdir / "uploads")
        django_setup(workdir, workdir / "imports", f"http://127.0.0.1:{port}")
        for number in range(1, args.runs + 1):
            print(f"\n== run {number} of {args.runs} (load average {load_average()})", flush=True)
            result = run_once(
                rows=args.rows,
                source=source,
                expected=expected,
                port=port,
                workdir=workdir,
                converter=converter,
            )
            run_print(result)
            results.append(result)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    if len(results) > 1:
        runs_summary(results)
    print(f"load average at the end: {load_average()}")
    failures = sorted({f for r in results for f in r.failures})
    if failures:
        sys.exit("FAILED: " + ", ".join(failures))


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
