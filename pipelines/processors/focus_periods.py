"""``focus.replace_periods``: put a run's staged FOCUS rows into the tenant's FOCUS table,
replacing exactly the billing periods they hold and keeping every other (``focus/periods.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, ClassVar

from focus.model import FOCUS_CLUSTER_BY, FOCUS_PARTITION_DAY
from focus.periods import (
    ledger_bounds_sql,
    ledger_record_sql,
    ledger_widen_sql,
    period_params,
    periods_count_sql,
    periods_replace_sql,
    staged_periods_sql,
)
from pipelines.processors.base import (
    Processor,
    StepContext,
    StepFailed,
    StepResult,
    check_destination,
    check_table_template,
    get_path,
    require_str,
)
from warehouse.files import FileSourceError, file_fingerprint, file_source_check
from warehouse.sql_identifiers import NAME_PATTERN
from warehouse.tables import FOCUS_PERIODS, META_TABLES

# Bounds of a table written before the ledger existed: its periods' days are not known.
EARLIEST = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)


class FocusReplacePeriods(Processor):
    ps_type: ClassVar[str] = "focus.replace_periods"
    writes_focus: ClassVar[bool] = True
    fields: ClassVar[frozenset[str]] = frozenset({"source", "destination"})

    @classmethod
    def validate(cls, step: Mapping[str, Any]) -> list[str]:
        errors = super().validate(step)
        table = require_str(step, "source.table", errors)
        check_table_template(table, "source.table", errors, bare=True)
        source = step.get("source")
        if isinstance(source, Mapping):
            unknown = sorted(set(source) - {"table", "file_param", "origin_table", "sources_param"})
            errors.extend(f"source.{name}: unknown field" for name in unknown)
            param = source.get("file_param")
            if param is not None and not (isinstance(param, str) and NAME_PATTERN.match(param)):
                errors.append("source.file_param: must be the name of a file parameter")
            param = source.get("sources_param")
            if param is not None and not (isinstance(param, str) and NAME_PATTERN.match(param)):
                errors.append("source.sources_param: must be the name of a parameter")
            check_table_template(
                source.get("origin_table"), "source.origin_table", errors, bare=False
            )
        check_destination(step, errors, modes=("replace_periods",))
        return errors

    def run(self, context: StepContext) -> StepResult:
        options = self.step.options
        staged_id = context.table_in_dataset(options["source"]["table"])
        staged = context.table(staged_id)
        table_id = context.table_in_dataset(options["destination"]["table"])
        destination = context.table(table_id)
        wh, dataset = context.warehouse, context.dataset_id
        # Every identifier is rendered and checked, and the file read, before the warehouse is
        # asked anything.
        source_name, size, checksum = self._source(context)

        periods = wh.query(staged_periods_sql(staged)).rows
        if not periods:
            raise StepFailed(f"{staged_id} holds no rows: no billing period to replace")
        if any(p["period"] is None for p in periods):
            raise StepFailed("rows without a BillingPeriodStart cannot replace a billing period")
        sources, only_periods = self._period_sources(context, periods)
        if only_periods:
            periods = [p for p in periods if _month(p["period"]) in sources]
        day_from = min(p["day_from"] for p in periods)
        day_to = max(p["day_to"] for p in periods)
        columns = wh.table_columns(dataset, staged_id)

        existed = wh.table_exists(dataset, table_id)
        wh.table_create(dataset, FOCUS_PERIODS, META_TABLES[FOCUS_PERIODS])
        ledger = context.table(FOCUS_PERIODS)
        recorded = wh.query(ledger_bounds_sql(ledger), {"table_name": table_id}).rows
        if existed and not recorded:
            # Written before the ledger: where its rows lie is unknown, so no day is skipped.
            day_from, day_to = EARLIEST, LATEST
        replaced = {p["period"] for p in periods}
        for row in recorded:
            if row["period"] in replaced:
                day_from = min(day_from, row["day_from"] or EARLIEST)
                day_to = max(day_to, row["day_to"] or LATEST)
        params = period_params([p["period"] for p in periods], day_from, day_to)
        count = len(periods)
        # The ledger first covers every day the rows may lie on, whatever happens next.
        wh.query(ledger_widen_sql(ledger, count), {**params, "table_name": table_id})

        before: dict = {}
        if existed:
            rows = wh.query(periods_count_sql(destination, count), params).rows
            before = {r["period"]: r["row_count"] for r in rows}
        else:
            wh.table_create(
                dataset,
                table_id,
                columns,
                partition_day=FOCUS_PARTITION_DAY,
                cluster_by=FOCUS_CLUSTER_BY,
            )
        result = wh.query(
            periods_replace_sql(
                destination,
                staged,
                [c.name for c in columns],
                count,
                only_periods=only_periods,
            ),
            params,
        )

        now = dt.datetime.now(dt.UTC)
        origin = {
            p["period"]: self._period_source(p["period"], sources, source_name, size, checksum)
            for p in periods
        }
        for p in periods:
            wh.query(
                ledger_record_sql(ledger),
                {
                    "table_name": table_id,
                    "period": p["period"],
                    "day_from": p["day_from"],
                    "day_to": p["day_to"],
                    "row_count": p["row_count"],
                    "run_id": context.run_id,
                    **origin[p["period"]],
                    # As text: a NULL and a number travel as the same parameter type.
                    "source_bytes": _text(origin[p["period"]]["source_bytes"]),
                    "written_at": now,
                },
            )
        return StepResult(
            rows_processed=sum(p["row_count"] for p in periods),
            bytes_processed=result.bytes_processed,
            details={
                "table": table_id,
                "source": source_name,
                "billing_periods": [
                    {
                        "table": table_id,
                        "billing_period_start": p["period"].isoformat(),
                        "rows_before": before.get(p["period"], 0),
                        "rows_after": p["row_count"],
                        **origin[p["period"]],
                    }
                    for p in periods
                ],
            },
        )

    @staticmethod
    def _period_source(period, sources, name, size, checksum) -> dict:
        if sources is not None:
            name, size, checksum = sources[_month(period)]
        return {"source_name": name, "source_bytes": size, "source_sha256": checksum}

    def _period_sources(self, context: StepContext, periods: list) -> tuple[dict | None, bool]:
        """Per billing period (``YYYY-MM-01``), the source an earlier step loaded it from
        (``source.sources_param``: a sync's deliveries), None without one; and whether only
        those periods' staged rows are to be taken. The staged rows must hold exactly those
        periods: a delivery carrying another month would otherwise replace a period no one
        asked for. Only where a source says its files also hold other periods' rows
        (``mixed``: OCI's late usage) are those rows left out instead."""
        param = self.step.options["source"].get("sources_param")
        if not param:
            return None, False
        given = context.params.get(param)
        if not isinstance(given, Mapping) or not given:
            raise StepFailed(f"parameter {param!r} (the periods loaded) has no value")
        staged = {_month(p["period"]) for p in periods}
        unexpected = sorted(staged - set(given))
        mixed = any(isinstance(s, Mapping) and s.get("mixed") for s in given.values())
        if unexpected and not mixed:
            loaded = "; ".join(
                f"{month}: {source.get('name')}" if isinstance(source, Mapping) else month
                for month, source in sorted(given.items())
            )
            raise StepFailed(
                f"the loaded rows hold billing period {', '.join(unexpected)}, which is not "
                f"the period of the delivery loaded ({loaded}); nothing was replaced"
            )
        missing = sorted(set(given) - staged)
        if missing:
            raise StepFailed(
                f"no rows of billing period {', '.join(missing)} were loaded although its "
                "delivery names it; nothing was replaced"
            )
        sources = {
            month: (str(source.get("name") or ""), source.get("bytes"), None)
            for month, source in given.items()
        }
        return sources, bool(unexpected)

    def _source(self, context: StepContext) -> tuple[str | None, int | None, str | None]:
        """The file (name, size, SHA-256) or source table the staged rows came from."""
        source = self.step.options["source"]
        if table := get_path(source, "origin_table"):
            # A table the run may read (the guard's rule), kept by name only.
            return context.table(table), None, None
        param = source.get("file_param")
        if not param or not context.params.get(param):
            return None, None, None
        try:
            uri = file_source_check(context.params[param], tenant_id=context.tenant_id)
        except FileSourceError as exc:
            raise StepFailed(str(exc)) from exc
        return file_fingerprint(context.policy.check_uri(uri))


def _month(period) -> str:
    """A billing period as the first day of its month, ``YYYY-MM-01`` (as a sync keys it)."""
    day = period.date() if isinstance(period, dt.datetime) else period
    return day.replace(day=1).isoformat()


def _text(value) -> str | None:
    return None if value is None else str(value)
