"""``focus.anomalies``: flag daily cost spikes per series of a FOCUS table, in the warehouse."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from pipelines.anomalies import (
    ANOMALIES,
    ANOMALY_COLUMNS,
    COST_COLUMNS,
    Method,
    detection_params,
    detection_sql,
    last_day_sql,
)
from pipelines.focus import CHARGE_CATEGORIES
from pipelines.processors.base import (
    Processor,
    StepContext,
    StepResult,
    check_choice,
    check_table_template,
    require_str,
)

# Ranges for the numeric options: (type, minimum, maximum).
NUMBERS: dict[str, tuple[type, float, float]] = {
    "history_weeks": (int, 2, 52),
    "min_baseline_days": (int, 2, 52),
    "detect_days": (int, 1, 366),
    "z_threshold": (float, 0.5, 100),
    "min_absolute": (float, 0, 1e12),
    "min_relative": (float, 0, 1000),
    "scale_floor": (float, 0, 10),
    "top_contributors": (int, 1, 20),
}
# A tag key travels as a query parameter; this only keeps it a plausible tag key.
TAG_KEY = re.compile(r"^[\w .:/=+\-@]{1,128}$")


class FocusAnomalies(Processor):
    ps_type: ClassVar[str] = "focus.anomalies"
    fields: ClassVar[frozenset[str]] = frozenset(
        {"table", "cost_column", "tag_key", "charge_categories", *NUMBERS}
    )

    @classmethod
    def validate(cls, step: Mapping[str, Any]) -> list[str]:
        errors = super().validate(step)
        check_table_template(require_str(step, "table", errors), "table", errors, bare=True)
        check_choice(step.get("cost_column", "BilledCost"), "cost_column", COST_COLUMNS, errors)
        for name, (kind, low, high) in NUMBERS.items():
            value = step.get(name)
            if value is None:
                continue
            allowed = int | float if kind is float else int
            if isinstance(value, bool) or not isinstance(value, allowed):
                errors.append(f"{name}: must be {'a number' if kind is float else 'an integer'}")
            elif not low <= value <= high:
                errors.append(f"{name}: must be between {low:g} and {high:g}")
        tag_key = step.get("tag_key")
        if tag_key is not None and not (isinstance(tag_key, str) and TAG_KEY.match(tag_key)):
            errors.append("tag_key: must be a tag key (letters, digits, _ .:/=+-@ and spaces)")
        categories = step.get("charge_categories")
        if categories is not None:
            if not isinstance(categories, list | tuple) or not categories:
                errors.append("charge_categories: must be a non-empty list")
            else:
                for category in categories:
                    check_choice(
                        category, "charge_categories", tuple(sorted(CHARGE_CATEGORIES)), errors
                    )
        weeks, least = step.get("history_weeks", 8), step.get("min_baseline_days", 4)
        if isinstance(weeks, int) and isinstance(least, int) and least > weeks:
            errors.append("min_baseline_days: cannot exceed history_weeks")
        return errors

    def method(self) -> Method:
        spec = self.step.options
        values = {name: spec[name] for name in NUMBERS if spec.get(name) is not None}
        if spec.get("cost_column"):
            values["cost_column"] = spec["cost_column"]
        if spec.get("tag_key"):
            values["tag_key"] = spec["tag_key"]
        if spec.get("charge_categories"):
            values["charge_categories"] = tuple(spec["charge_categories"])
        return dataclasses.replace(Method(), **values)

    def run(self, context: StepContext) -> StepResult:
        method = self.method()
        table_id = context.table_in_dataset(self.step.options["table"])
        source = context.table(table_id)
        target = context.table(ANOMALIES)
        wh = context.warehouse
        if table_id not in wh.tables_list(context.dataset_id):
            return StepResult(details={"table": table_id, "skipped": "no FOCUS table yet"})
        last_day = wh.query(last_day_sql(source)).rows[0]["last_day"]
        if last_day is None:
            return StepResult(details={"table": table_id, "skipped": "no charges"})
        wh.table_create(context.dataset_id, ANOMALIES, ANOMALY_COLUMNS)
        result = wh.query(
            detection_sql(method, source=source, target=target),
            detection_params(method, last_day, context.run_id),
        )
        window_start = last_day - dt.timedelta(days=method.detect_days - 1)
        found = wh.query(
            f"SELECT COUNT(*) AS n FROM `{target}` "
            "WHERE pipeline_logging_id = @run_id AND day BETWEEN @start AND @end",
            {"run_id": context.run_id, "start": window_start, "end": last_day},
        ).rows[0]["n"]
        return StepResult(
            rows_processed=result.rows_affected or 0,
            bytes_processed=result.bytes_processed,
            details={
                "table": table_id,
                "last_day": last_day.isoformat(),
                "anomalies_in_window": found,
            },
        )
