"""Benchmark: a FOCUS mapping beside the hand-written FOCUS SQL, on the same FOCUS 1.2 CSV.

Usage, from the project root:

    .venv/bin/python benchmarks/focus_mapping.py [--rows 200000] [--rounds 3]

The FOCUS-shaped sample (``mappings/tests/data/focus_csv_sample.csv``) is repeated to
``--rows`` rows (timestamps written in BigQuery's canonical form, so the hand-written SQL
reads them too). On one fresh emulator and one tenant, two pipelines run on that file, in
turn, ``--rounds`` times each, as a worker runs them (``pipeline_run_start`` then
``pipeline_run_execute``):

- ``focus/cost/native``: ``focus.normalize`` with the hand-written native-FOCUS SQL of
  ``focus/native.py`` (an inner select parsing each column once, an outer one building
  the FOCUS columns);
- ``focus_csv/cost/focus``: ``focus.map`` with the shipped ``focus_csv`` mapping, compiled
  by ``mappings/`` (every literal a query parameter, every column through ``NULLIF``).

Each run's load, FOCUS step and checks are timed from its StepRun rows; the figures are the
median over the rounds. Both FOCUS tables must hold ``--rows`` rows and the file's cost total
to the cent. The control-plane database is a temp SQLite file unless ``DATABASE_URL`` is set.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.focus_normalize import PROJECT, django_setup  # noqa: E402

SAMPLE = ROOT / "mappings" / "tests" / "data" / "focus_csv_sample.csv"
CENT = Decimal("0.01")
PIPELINES = {
    "hand-written SQL (focus/cost/native)": (
        "focus",
        "native",
        "normalize_focus",
        "focus_cost_native",
    ),
    "mapping (focus_csv/cost/focus)": ("focus_csv", "focus", "map_focus", "focus_csv_cost_focus"),
}


def canonical(text: str) -> str:
    """An ISO timestamp of the sample in BigQuery's canonical ``YYYY-MM-DD HH:MM:SS+00:00``."""
    import datetime as dt

    if not text:
        return text
    value = text.strip().replace("Z", "+00:00")
    if len(value) >= 16 and value[16:17] != ":":
        value = value[:16] + ":00" + value[16:]
    if value[-5:-4] in "+-" and ":" not in value[-5:]:
        value = value[:-2] + ":" + value[-2:]
    parsed = dt.datetime.fromisoformat(value.replace(" ", "T"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S+00:00")


def scale(target: Path, rows: int) -> Decimal:
    """The sample repeated to ``rows`` rows; returns the BilledCost total."""
    with SAMPLE.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        sample = list(reader)
    times = [c for c in header if c.endswith(("PeriodStart", "PeriodEnd"))]
    for row in sample:
        for column in times:
            row[column] = canonical(row[column])
    total = Decimal(0)
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        for index in range(rows):
            row = sample[index % len(sample)]
            writer.writerow(row)
            total += Decimal(row["BilledCost"])
    return total


def run_once(tenant_id: str, source: Path, provider: str, pipeline: str) -> dict[str, float]:
    from pipelines.models import RunStatus
    from pipelines.services.runs import pipeline_run_execute, pipeline_run_start

    run = pipeline_run_start(
        tenant_id=tenant_id,
        provider=provider,
        domain="cost",
        pipeline=pipeline,
        parameters={"source_file": source.name},
        enqueue=False,
    )
    started = time.perf_counter()
    run = pipeline_run_execute(run_id=run.pk)
    total = time.perf_counter() - started
    steps = {s.step_id: s for s in run.steps.all()}
    if run.status != RunStatus.COMPLETED:
        sys.exit(f"{provider}/cost/{pipeline}: {run.status}: {run.error_message}")
    seconds = {
        k: (s.ended_at - s.started_at).total_seconds() for k, s in steps.items() if s.ended_at
    }
    return {"total": total, **seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from devtools.emulator import emulator_start, emulator_wait, free_port

    workdir = Path(tempfile.mkdtemp(prefix="focus-mapping-bench-"))
    process = None
    try:
        tenant_id = "bench_mapping"
        imports = workdir / "imports"
        (imports / tenant_id).mkdir(parents=True)
        source = imports / tenant_id / "focus12.csv"
        expected = scale(source, args.rows)
        print(f"{args.rows:,} FOCUS 1.2 rows, BilledCost total {expected}", flush=True)
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}"
        process = emulator_start(project=PROJECT, rest_port=port, log_path=workdir / "emulator.log")
        emulator_wait(endpoint, process=process)
        django_setup(workdir, imports, endpoint)
        from tenants.services.audit import Actor
        from tenants.services.onboarding import tenant_onboard
        from warehouse.bigquery import get_warehouse

        onboarded = tenant_onboard(
            tenant_id=tenant_id,
            company_name="Benchmark Ltd",
            admin_email=f"admin+{tenant_id}@example.com",
            plan_code="SCALE",
            actor=Actor.system("benchmark"),
        )
        timings: dict[str, list[dict[str, float]]] = {name: [] for name in PIPELINES}
        for _ in range(args.rounds):
            for name, (provider, pipeline, _step, _table) in PIPELINES.items():
                timings[name].append(run_once(tenant_id, source, provider, pipeline))
        warehouse = get_warehouse()
        print(f"\nmedian of {args.rounds} rounds, seconds   load   FOCUS step   checks   whole run")
        for name, (_provider, _pipeline, step, table) in PIPELINES.items():
            quoted = warehouse.quoted(onboarded.dataset_id, table)
            row = warehouse.query(f"SELECT COUNT(*) AS n, SUM(BilledCost) AS t FROM {quoted}").rows[
                0
            ]
            if row["n"] != args.rows or row["t"].quantize(CENT) != expected.quantize(CENT):
                sys.exit(f"{name}: {row['n']} rows, total {row['t']}; expected {expected}")
            runs = timings[name]
            load = statistics.median(r[next(k for k in r if k.startswith("load"))] for r in runs)
            focus = statistics.median(r[step] for r in runs)
            checks = statistics.median(r["check_focus"] for r in runs)
            whole = statistics.median(r["total"] for r in runs)
            print(f"{name:<40} {load:6.2f} {focus:12.2f} {checks:8.2f} {whole:11.2f}")
        print(f"(both tables: {args.rows:,} rows, BilledCost {expected} to the cent)")
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
        os.environ.pop("PIPELINE_LOCAL_FILES_DIR", None)


if __name__ == "__main__":
    main()
