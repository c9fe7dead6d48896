"""Cost anomaly detection in the warehouse: a weekday-seasonal median/MAD baseline, in SQL.

The method (docs/anomalies.md): for each series (provider, service, sub-account, region and
optionally one tag's value) and day, the baseline is the same weekday's daily cost over the
previous ``history_weeks`` weeks. ``expected`` is their median, the spread their median
absolute deviation (MAD), scaled by 1.4826 to estimate a standard deviation; the score is the
robust z-score ``(actual - expected) / scale`` (Iglewicz & Hoaglin's modified z-score, which
flags above 3.5). A day is an anomaly only if the score, the absolute increase and the
relative increase all pass their thresholds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from warehouse.bigquery import Column
from warehouse.sql_identifiers import identifier_check

ANOMALIES = "x_meta_cost_anomalies"

# The FOCUS columns detection reads, in one place (the FOCUS column model may still change).
FOCUS_REFS: dict[str, str] = {
    "day": "ChargePeriodStart",
    "provider": "ProviderName",
    "service": "ServiceName",
    "sub_account": "SubAccountId",
    "region": "RegionId",
    "resource": "ResourceId",
    "sku": "SkuId",
    "tags": "Tags",
    "category": "ChargeCategory",
}
COST_COLUMNS = ("BilledCost", "EffectiveCost")
SERIES = ("provider", "service", "sub_account", "region", "tag_value")

ANOMALY_COLUMNS: tuple[Column, ...] = (
    Column("series_key", "STRING", "REQUIRED"),
    Column("day", "DATE", "REQUIRED"),
    Column("provider", "STRING"),
    Column("service", "STRING"),
    Column("sub_account", "STRING"),
    Column("region", "STRING"),
    Column("tag_key", "STRING"),
    Column("tag_value", "STRING"),
    Column("cost_column", "STRING"),
    Column("actual", "FLOAT64"),
    Column("expected", "FLOAT64"),
    Column("mad", "FLOAT64"),
    Column("score", "FLOAT64"),
    Column("baseline_days", "INT64"),
    Column("top_contributors", "JSON"),
    Column("pipeline_logging_id", "STRING"),
    Column("detected_at", "TIMESTAMP"),
    Column("updated_at", "TIMESTAMP"),
)


@dataclasses.dataclass(frozen=True)
class Method:
    """The detection parameters; defaults are the documented ones."""

    history_weeks: int = 8
    min_baseline_days: int = 4
    detect_days: int = 7
    z_threshold: float = 3.5
    min_absolute: float = 10.0
    min_relative: float = 0.5
    scale_floor: float = 0.05
    top_contributors: int = 3
    cost_column: str = "BilledCost"
    tag_key: str | None = None
    charge_categories: tuple[str, ...] = ("Usage",)

    @property
    def history_days(self) -> int:
        return 7 * self.history_weeks


def last_day_sql(source: str) -> str:
    """The latest charge day in the FOCUS table (the window ends there)."""
    day = FOCUS_REFS["day"]
    return f"SELECT MAX(DATE({day})) AS last_day FROM `{identifier_check('table', source)}`"


def detection_params(method: Method, last_day: dt.date, run_id: str) -> dict[str, Any]:
    """The statement's query parameters: the window's dates and the thresholds."""
    detect_start = last_day - dt.timedelta(days=method.detect_days - 1)
    params: dict[str, Any] = {
        "read_start": detect_start - dt.timedelta(days=method.history_days),
        "detect_start": detect_start,
        "end_day": last_day,
        "history_days": method.history_days,
        "min_baseline_days": method.min_baseline_days,
        "z_threshold": float(method.z_threshold),
        "min_absolute": float(method.min_absolute),
        "min_relative": float(method.min_relative),
        "scale_floor": float(method.scale_floor),
        "charge_categories": list(method.charge_categories),
        "tag_key": method.tag_key or "",
        "run_id": run_id,
    }
    return params


def detection_sql(method: Method, *, source: str, target: str) -> str:
    """One MERGE: score every series-day in the window, keep the anomalies, drop the cleared.

    ``source`` and ``target`` are ``project.dataset.table``. Only the window's days and their
    baseline weeks are read (a filter on the charge day, which the FOCUS table's day
    partitioning prunes). Re-running over the same days updates the same rows.
    """
    source = identifier_check("table", source)
    target = identifier_check("table", target)
    if method.cost_column not in COST_COLUMNS:
        raise ValueError(f"cost column must be one of {', '.join(COST_COLUMNS)}")
    f = FOCUS_REFS
    tag = f"JSON_VALUE({f['tags']}[@tag_key])" if method.tag_key else "CAST(NULL AS STRING)"
    keys = ", ".join(SERIES)
    same = " AND ".join(f"{{a}}.{k} = {{b}}.{k}" for k in SERIES)

    def on(a: str, b: str) -> str:
        return same.format(a=a, b=b)

    top_n = int(method.top_contributors)
    return f"""MERGE `{target}` AS T
USING (
  WITH costs AS (
    SELECT
      DATE({f["day"]}) AS day,
      COALESCE({f["provider"]}, '') AS provider,
      COALESCE({f["service"]}, '') AS service,
      COALESCE({f["sub_account"]}, '') AS sub_account,
      COALESCE({f["region"]}, '') AS region,
      COALESCE({tag}, '') AS tag_value,
      COALESCE({f["resource"]}, '') AS resource_id,
      COALESCE({f["sku"]}, '') AS sku_id,
      CAST({method.cost_column} AS FLOAT64) AS cost
    FROM `{source}`
    WHERE {f["day"]} >= TIMESTAMP(@read_start)
      AND {f["day"]} < TIMESTAMP(DATE_ADD(@end_day, INTERVAL 1 DAY))
      AND {f["category"]} IN UNNEST(@charge_categories)
  ),
  observed AS (
    SELECT {keys}, day, SUM(cost) AS cost FROM costs GROUP BY {keys}, day
  ),
  series AS (
    SELECT {keys}, MIN(day) AS first_day FROM observed GROUP BY {keys}
  ),
  daily AS (
    SELECT {", ".join(f"s.{k}" for k in SERIES)}, d AS day, COALESCE(o.cost, 0) AS cost
    FROM series AS s
    CROSS JOIN UNNEST(GENERATE_DATE_ARRAY(s.first_day, @end_day)) AS d
    LEFT JOIN observed AS o ON {on("o", "s")} AND o.day = d
  ),
  history AS (
    SELECT {", ".join(f"t.{k}" for k in SERIES)}, t.day, t.cost AS actual, h.cost AS past
    FROM daily AS t
    JOIN daily AS h
      ON {on("h", "t")}
      AND h.day < t.day
      AND h.day >= DATE_SUB(t.day, INTERVAL @history_days DAY)
      AND MOD(DATE_DIFF(t.day, h.day, DAY), 7) = 0
    WHERE t.day >= @detect_start
  ),
  medians AS (
    SELECT *, PERCENTILE_CONT(past, 0.5) OVER (PARTITION BY {keys}, day) AS expected
    FROM history
  ),
  deviations AS (
    SELECT *, PERCENTILE_CONT(ABS(past - expected), 0.5) OVER (PARTITION BY {keys}, day) AS mad
    FROM medians
  ),
  baselines AS (
    SELECT {keys}, day, ANY_VALUE(actual) AS actual, ANY_VALUE(expected) AS expected,
      ANY_VALUE(mad) AS mad, COUNT(*) AS baseline_days
    FROM deviations
    GROUP BY {keys}, day
  ),
  scored AS (
    SELECT *,
      (actual - expected)
        / GREATEST(1.4826 * mad, @scale_floor * ABS(expected), 0.01) AS score
    FROM baselines
  ),
  flagged AS (
    SELECT *,
      (baseline_days >= @min_baseline_days
        AND score >= @z_threshold
        AND actual - expected >= @min_absolute
        AND actual >= expected * (1 + @min_relative)) AS is_anomaly
    FROM scored
  ),
  contributions AS (
    SELECT {", ".join(f"a.{k}" for k in SERIES)}, a.day, c.resource_id, c.sku_id,
      SUM(IF(c.day = a.day, c.cost, 0)) AS actual,
      SUM(IF(c.day < a.day, c.cost, 0)) / a.baseline_days AS expected
    FROM flagged AS a
    JOIN costs AS c
      ON {on("c", "a")}
      AND c.day <= a.day
      AND c.day >= DATE_SUB(a.day, INTERVAL @history_days DAY)
      AND MOD(DATE_DIFF(a.day, c.day, DAY), 7) = 0
    WHERE a.is_anomaly
    GROUP BY {", ".join(f"a.{k}" for k in SERIES)}, a.day, c.resource_id, c.sku_id,
      a.baseline_days
  ),
  tops AS (
    SELECT {keys}, day,
      TO_JSON(ARRAY_AGG(STRUCT(
        resource_id, sku_id, ROUND(actual, 2) AS actual, ROUND(expected, 2) AS expected,
        ROUND(actual - expected, 2) AS increase
      ) ORDER BY actual - expected DESC, resource_id, sku_id LIMIT {top_n})) AS top_contributors
    FROM contributions
    GROUP BY {keys}, day
  )
  SELECT
    TO_JSON_STRING([x.provider, x.service, x.sub_account, x.region, @tag_key, x.tag_value])
      AS series_key,
    {", ".join(f"x.{k}" for k in SERIES)}, x.day, x.actual, x.expected, x.mad, x.score,
    x.baseline_days, x.is_anomaly, p.top_contributors
  FROM flagged AS x
  LEFT JOIN tops AS p ON {on("p", "x")} AND p.day = x.day
) AS S
ON T.series_key = S.series_key AND T.day = S.day
WHEN MATCHED AND NOT S.is_anomaly THEN DELETE
WHEN MATCHED THEN UPDATE SET
  actual = S.actual, expected = S.expected, mad = S.mad, score = S.score,
  baseline_days = S.baseline_days, top_contributors = S.top_contributors,
  pipeline_logging_id = @run_id, updated_at = CURRENT_TIMESTAMP()
WHEN NOT MATCHED AND S.is_anomaly THEN INSERT (
  series_key, day, provider, service, sub_account, region, tag_key, tag_value, cost_column,
  actual, expected, mad, score, baseline_days, top_contributors, pipeline_logging_id,
  detected_at, updated_at
) VALUES (
  S.series_key, S.day, S.provider, S.service, S.sub_account, S.region,
  NULLIF(@tag_key, ''), NULLIF(S.tag_value, ''), '{method.cost_column}',
  S.actual, S.expected, S.mad, S.score, S.baseline_days, S.top_contributors, @run_id,
  CURRENT_TIMESTAMP(), CURRENT_TIMESTAMP()
)"""
