"""Benchmark: FOCUS normalization of the AWS CUR sample scaled up, pipeline vs plain DuckDB.

Usage, from the project root:

    .venv/bin/python benchmarks/focus_normalize.py [--rows 1000000]

The AWS CUR sample (``pipelines/tests/data/aws_cur_sample.csv``, 1,281 rows) is repeated
to ``--rows`` rows into a gzip CSV in a temp dir, each copy's ``identity/LineItemId``
suffixed so no two rows are the same. Then, in one run:

- pipeline: a fresh ephemeral bqemulator on a free port, a tenant onboarded on the SCALE
  plan, and the real ``aws/cost/focus`` pipeline (file.load, focus.normalize, dq.check)
  started with ``pipeline_run_start`` and executed in-process with ``pipeline_run_execute``,
  exactly as a worker runs it. Timed whole, and per step from the StepRun rows.
- DuckDB: the same file read into an in-memory DuckDB table with the same all-VARCHAR
  schema and column names, then the same FOCUS statement, translated to DuckDB by
  bqemulator's own translator (the statement the emulator executes). Two diagnostic
  rows follow: the statement with DECIMAL(18, 9) for NUMERIC, and one copy of the raw
  table (what the emulator's snapshot after a load costs).

Both FOCUS tables must hold ``--rows`` rows and the source file's cost total, to the cent.
The control-plane database is a temp SQLite file unless ``DATABASE_URL`` is set (a tenant
is then onboarded there).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import logging
import os
import shutil
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


@dataclass(frozen=True)
class Timing:
    label: str
    rows: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else float("inf")


def cur_scale(target: Path, rows: int) -> Decimal:
    """Write ``rows`` rows of the sample, repeated, to a gzip CSV; return their cost total."""
    with SAMPLE.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        sample = list(reader)
    id_index = header.index("identity/LineItemId")
    cost_index = header.index("lineItem/UnblendedCost")
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


def pipeline_bench(tenant_id: str, source: Path, rows: int) -> tuple[list[Timing], int, Decimal]:
    """Run aws/cost/focus on ``source``; return its timings, FOCUS row count and cost total."""
    from pipelines.models import RunStatus
    from pipelines.services.runs import pipeline_run_execute, pipeline_run_start
    from pipelines.tables import DQ_RESULTS
    from pipelines.warehouse import get_warehouse
    from tenants.services.audit import Actor
    from tenants.services.onboarding import tenant_onboard

    onboarded = tenant_onboard(
        tenant_id=tenant_id,
        company_name="Benchmark Ltd",
        admin_email=f"admin+{tenant_id}@example.com",
        plan_code="SCALE",
        actor=Actor.system("benchmark"),
    )
    run = pipeline_run_start(
        tenant_id=tenant_id,
        provider="aws",
        domain="cost",
        pipeline="focus",
        parameters={"source_file": source.name},
        enqueue=False,
    )
    started = time.perf_counter()
    run = pipeline_run_execute(run_id=run.pk)
    total_seconds = time.perf_counter() - started

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
    focus = warehouse.query(
        "SELECT COUNT(*) AS n, SUM(BilledCost) AS total "
        f"FROM {warehouse.quoted(dataset, 'aws_cost_focus')}"
    ).rows[0]

    def step(step_id: str, label: str) -> Timing:
        row = steps[step_id]
        return Timing(label, rows, (row.ended_at - row.started_at).total_seconds())

    timings = [
        Timing("pipeline: whole run", rows, total_seconds),
        step("load_cur", "  step file.load"),
        step("normalize_focus", "  step focus.normalize"),
        step("check_focus", "  step dq.check"),
    ]
    return timings, focus["n"], Decimal(focus["total"])


def duckdb_bench(source: Path, rows: int) -> tuple[list[Timing], int, Decimal, float]:
    """Load ``source`` into in-memory DuckDB and run the emulator's translation of focus_sql."""
    import duckdb
    import structlog
    from bqemulator.sql.builtin_udfs import register_builtin_udfs
    from bqemulator.sql.table_rewriter import rewrite_table_refs
    from bqemulator.sql.translator import SQLTranslator

    from pipelines.focus import focus_sql, focus_table_columns
    from pipelines.processors.file_load import csv_header_columns

    # The translator logs every call at debug level; the emulator itself runs at warning.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    columns = [c.name for c in csv_header_columns(source)]
    schema = f'"{PROJECT}__bench"'
    conn = duckdb.connect()
    # As the emulator's engine does on start: UTC sessions and its Python UDFs.
    conn.execute("SET TimeZone = 'UTC'")
    register_builtin_udfs(conn)
    conn.execute(f"CREATE SCHEMA {schema}")

    started = time.perf_counter()
    conn.execute(
        f"CREATE TABLE {schema}.aws_cur_raw AS "
        "SELECT * FROM read_csv(?, all_varchar = true, header = true, names = ?)",
        [str(source), columns],
    )
    load_seconds = time.perf_counter() - started

    started = time.perf_counter()
    bq_sql = focus_sql(
        "aws",
        source=f"{PROJECT}.bench.aws_cur_raw",
        destination=f"{PROJECT}.bench.aws_cost_focus",
        source_columns=columns,
    )
    # The emulator's own chain for a query job: translate, then qualify table names.
    translated = SQLTranslator().translate(bq_sql).unwrap()
    duckdb_sql = rewrite_table_refs(translated, PROJECT)
    translate_seconds = time.perf_counter() - started
    # The pipeline creates the FOCUS table with its schema, then inserts into it.
    types = {"NUMERIC": "DECIMAL(38, 9)", "FLOAT64": "DOUBLE", "TIMESTAMP": "TIMESTAMPTZ"}
    ddl = ", ".join(
        f'"{c.name}" {types.get(c.type, "JSON" if c.type == "JSON" else "VARCHAR")}'
        for c in focus_table_columns("aws")
    )
    conn.execute(f"CREATE TABLE {schema}.aws_cost_focus ({ddl})")

    started = time.perf_counter()
    conn.execute(duckdb_sql)
    normalize_seconds = time.perf_counter() - started
    count, total = conn.execute(
        f"SELECT COUNT(*), SUM(BilledCost) FROM {schema}.aws_cost_focus"
    ).fetchone()

    # After a load job the emulator copies the whole table (its time-travel snapshot), so
    # its file.load step pays for one such copy of the raw table.
    started = time.perf_counter()
    conn.execute(f"CREATE TABLE {schema}.raw_copy AS SELECT * FROM {schema}.aws_cur_raw")
    copy_seconds = time.perf_counter() - started

    # Not the same SQL, a diagnostic: PARSE_NUMERIC becomes a cast to DECIMAL(38, 9)
    # (BigQuery's NUMERIC), and DuckDB casts text to 128-bit decimals far more slowly than
    # to 64-bit ones; DECIMAL(18, 9) shows how much of the normalization that is.
    narrow_sql = duckdb_sql.replace("DECIMAL(38, 9)", "DECIMAL(18, 9)")
    conn.execute(f"DELETE FROM {schema}.aws_cost_focus")
    started = time.perf_counter()
    conn.execute(narrow_sql)
    narrow_seconds = time.perf_counter() - started
    conn.close()
    timings = [
        Timing("duckdb: load CSV.gz", rows, load_seconds),
        Timing("duckdb: normalize (same SQL)", rows, normalize_seconds),
        Timing("duckdb: load + normalize", rows, load_seconds + normalize_seconds),
        Timing("  normalize, DECIMAL(18, 9) (diagnostic)", rows, narrow_seconds),
        Timing("  raw table copy (cf. load snapshot)", rows, copy_seconds),
    ]
    return timings, count, Decimal(total), translate_seconds


def table_print(timings: list[Timing]) -> None:
    width = max(len(t.label) for t in timings)
    print(f"| {'':<{width}} | {'rows':>9} | {'seconds':>8} | {'rows/s':>9} |")
    print(f"|{'-' * (width + 2)}|{'-' * 10}:|{'-' * 9}:|{'-' * 10}:|")
    for t in timings:
        print(f"| {t.label:<{width}} | {t.rows:>9,} | {t.seconds:>8.2f} | {t.rate:>9,.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.rows < 1:
        parser.error("--rows must be positive")

    from pipelines.emulator import emulator_start, emulator_wait, free_port

    workdir = Path(tempfile.mkdtemp(prefix="focus-bench-"))
    process = None
    try:
        tenant_id = f"bench_{uuid.uuid4().hex[:8]}"
        imports = workdir / "imports"
        # A tenant's runs load local files only from its own folder under the imports dir.
        (imports / tenant_id).mkdir(parents=True)
        source = imports / tenant_id / "aws_cur_scaled.csv.gz"
        started = time.perf_counter()
        expected = cur_scale(source, args.rows)
        print(
            f"scaled sample to {args.rows:,} rows in {time.perf_counter() - started:.1f} s "
            f"({source.stat().st_size / 1e6:.0f} MB gzip); cost total {expected}"
        )

        port = free_port()
        endpoint = f"http://127.0.0.1:{port}"
        # Staged uploads go to the temp dir; the default 1 GiB upload cap is below 1.3M rows.
        os.environ["BQEMU_UPLOAD_STAGING_DIR"] = str(workdir / "uploads")
        os.environ["BQEMU_UPLOAD_MAX_BYTES"] = str(10 * 1024**3)
        process = emulator_start(project=PROJECT, rest_port=port, log_path=workdir / "emulator.log")
        emulator_wait(endpoint, process=process)
        django_setup(workdir, imports, endpoint)

        pipeline, p_count, p_total = pipeline_bench(tenant_id, source, args.rows)
        # Stopped before DuckDB runs so the two sides do not share the CPUs or memory.
        process.terminate()
        process.wait(timeout=30)
        process = None
        duck, d_count, d_total, translate_seconds = duckdb_bench(source, args.rows)
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"FOCUS rows: pipeline {p_count:,}, duckdb {d_count:,} (expected {args.rows:,})")
    print(
        f"SUM(BilledCost): pipeline {p_total.quantize(CENT)}, duckdb {d_total.quantize(CENT)}, "
        f"source file {expected.quantize(CENT)}"
    )
    print(f"translation (focus_sql -> DuckDB SQL): {translate_seconds * 1000:.0f} ms")
    print()
    table_print(pipeline + duck)
    normalize_ratio = pipeline[2].seconds / duck[1].seconds
    total_ratio = pipeline[0].seconds / duck[2].seconds
    print()
    print(f"normalize step / duckdb normalize: {normalize_ratio:.1f}x")
    print(f"whole pipeline / duckdb load + normalize: {total_ratio:.1f}x")

    failures = []
    if not p_count == d_count == args.rows:
        failures.append("row counts differ")
    if not p_total.quantize(CENT) == d_total.quantize(CENT) == expected.quantize(CENT):
        failures.append("cost totals differ")
    if failures:
        sys.exit("FAILED: " + ", ".join(failures))


if __name__ == "__main__":
    main()
