"""A cost question (range, granularity, metrics, grouping, filters, currency) and the one
GoogleSQL statement that answers it over a tenant's FOCUS tables.

Every value travels as a query parameter; the only names written into the SQL are FOCUS
columns from the allow-lists below and the tables the caller passes (quoted by the warehouse).
A tag key is a query parameter too (``JSON_VALUE(Tags[@t0])``); its pattern is checked all the
same, so a key that could never be a tag is a 400 rather than an empty answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from focus.model import FOCUS_PARTITION_DAY

GRANULARITIES = ("day", "month", "total")
METRICS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
DIMENSIONS = (
    "ProviderName",
    "ServiceCategory",
    "ServiceName",
    "SubAccountId",
    "SubAccountName",
    "RegionId",
    "ChargeCategory",
    "PricingCategory",
    "ResourceId",
)
TAG_PREFIX = "Tags."
# Tag keys as the providers allow them (AWS: letters, digits, spaces and _ . : / = + - @;
# Azure and OCI keys are narrower), at most 128 characters. No quote, backtick or backslash.
TAG_KEY_PATTERN = re.compile(r"\A[A-Za-z0-9 _.:/=+@-]{1,128}\Z")
# The same rule as dimension_check, for the OpenAPI schema.
DIMENSION_PATTERN = r"^(" + "|".join(DIMENSIONS) + r"|Tags\.[A-Za-z0-9 _.:/=+@-]{1,128})$"
MAX_GROUP_BY = 3
MAX_RANGE_MONTHS = 13
MAX_GROUPS = 10_000
MAX_FILTERS = 10
MAX_FILTER_VALUES = 100
CURRENCY_PATTERN = re.compile(r"\A[A-Z]{3}\Z")


class CostQueryInvalid(ValueError):
    """The question cannot be asked; ``field`` names the parameter at fault."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class TooManyGroups(CostQueryInvalid):
    """The answer would hold more than MAX_GROUPS groups."""


def dimension_check(name: str, *, field: str) -> str:
    """``name`` if it is a FOCUS dimension or ``Tags.<key>`` with a valid key; else a 400."""
    if name in DIMENSIONS:
        return name
    if name.startswith(TAG_PREFIX):
        if TAG_KEY_PATTERN.match(name[len(TAG_PREFIX) :]):
            return name
        raise CostQueryInvalid(
            f"{name!r}: a tag key is 1-128 characters of letters, digits, spaces and "
            "_ . : / = + - @.",
            field=field,
        )
    raise CostQueryInvalid(
        f"Unknown dimension {name!r}; dimensions: {', '.join(DIMENSIONS)} or Tags.<key>.",
        field=field,
    )


def range_check(start: date, end: date) -> None:
    """``start`` on or before ``end``, at most 13 months apart (both days included)."""
    if start > end:
        raise CostQueryInvalid(
            f"start ({start}) is after end ({end}).",
            field="start",
        )
    if end >= start + relativedelta(months=MAX_RANGE_MONTHS):
        raise CostQueryInvalid(
            f"The range {start} to {end} is longer than {MAX_RANGE_MONTHS} months; "
            f"end must be before {start + relativedelta(months=MAX_RANGE_MONTHS)}.",
            field="end",
        )


@dataclass(frozen=True)
class Filter:
    """``dimension`` equal to one of ``values`` (equals, in) or, with ``negate``, to none of
    them (not). A row without the dimension (NULL) matches only ``not``."""

    dimension: str
    values: tuple[str, ...]
    negate: bool = False


def filters_parse(raw: object) -> tuple[Filter, ...]:
    """The ``filter`` parameter's JSON object: ``{"ProviderName": "AWS"}`` (equals),
    ``{"ServiceName": ["A", "B"]}`` (in), ``{"Tags.team": {"not": ["data"]}}`` (not)."""
    if not isinstance(raw, dict):
        raise CostQueryInvalid(
            'Must be a JSON object such as {"ProviderName": "AWS"}.', field="filter"
        )
    if len(raw) > MAX_FILTERS:
        raise CostQueryInvalid(f"At most {MAX_FILTERS} dimensions.", field="filter")
    filters = []
    for dimension, condition in raw.items():
        dimension_check(dimension, field="filter")
        negate = False
        if isinstance(condition, dict):
            if set(condition) != {"not"}:
                raise CostQueryInvalid(
                    f'{dimension}: an object condition is {{"not": value or [values]}}.',
                    field="filter",
                )
            negate, condition = True, condition["not"]
        values = condition if isinstance(condition, list) else [condition]
        if not 1 <= len(values) <= MAX_FILTER_VALUES or not all(
            isinstance(v, str) and len(v) <= 256 for v in values
        ):
            raise CostQueryInvalid(
                f"{dimension}: give a string, or a list of 1-{MAX_FILTER_VALUES} strings "
                "(each at most 256 characters).",
                field="filter",
            )
        filters.append(Filter(dimension, tuple(values), negate))
    return tuple(filters)


@dataclass(frozen=True)
class CostQuery:
    start: date
    end: date
    granularity: str = "day"
    metrics: tuple[str, ...] = ("BilledCost",)
    group_by: tuple[str, ...] = ()
    filters: tuple[Filter, ...] = ()
    currency: str | None = None

    def __post_init__(self) -> None:
        range_check(self.start, self.end)
        if self.granularity not in GRANULARITIES:
            raise CostQueryInvalid(
                f"Unknown granularity {self.granularity!r}; one of {', '.join(GRANULARITIES)}.",
                field="granularity",
            )
        for metric in self.metrics:
            if metric not in METRICS:
                raise CostQueryInvalid(
                    f"Unknown metric {metric!r}; metrics: {', '.join(METRICS)}.", field="metric"
                )
        if len(self.group_by) > MAX_GROUP_BY:
            raise CostQueryInvalid(
                f"At most {MAX_GROUP_BY} dimensions ({len(self.group_by)} given).",
                field="group_by",
            )
        if len(set(self.group_by)) != len(self.group_by):
            raise CostQueryInvalid("A dimension is named twice.", field="group_by")
        for name in self.group_by:
            dimension_check(name, field="group_by")
        if self.currency is not None and not CURRENCY_PATTERN.match(self.currency):
            raise CostQueryInvalid(
                "A currency is an ISO 4217 code of three capital letters.", field="currency"
            )

    def key(self) -> str:
        """The question as text: the same question, the same key."""
        return repr(self)


@dataclass
class Statement:
    sql: str
    params: dict = field(default_factory=dict)


def _tables_union(
    tables: list[tuple[str, str]], columns: list[str], where: str, params: dict
) -> str:
    """One branch per (source, quoted table), each restricted to the range's partitions by a
    constant condition on the partitioning column, so BigQuery reads only those days."""
    branches = []
    for index, (source, quoted) in enumerate(tables):
        params[f"s{index}"] = source
        branches.append(
            f"SELECT @s{index} AS source, {', '.join(columns)} FROM {quoted} "
            f"WHERE {FOCUS_PARTITION_DAY} >= TIMESTAMP(@start) "
            f"AND {FOCUS_PARTITION_DAY} < TIMESTAMP(@end_next){where}"
        )
    return "\nUNION ALL\n".join(branches)


def _dimension_sql(name: str, params: dict, prefix: str) -> str:
    """A dimension as SQL: the checked column name, or the tag's value by a bound key."""
    if name.startswith(TAG_PREFIX):
        params[prefix] = name[len(TAG_PREFIX) :]
        return f"JSON_VALUE(Tags[@{prefix}])"
    return dimension_check(name, field="group_by")


def costs_statement(query: CostQuery, tables: list[tuple[str, str]]) -> Statement:
    """The statement answering ``query`` over ``tables`` ((source, quoted table) pairs): one
    row per period, currency and group (``g0``.. in ``group_by`` order), a column per metric
    (``m0``.., in ``metrics`` order). At most MAX_GROUPS + 1 rows, so a larger answer is seen
    without reading it all."""
    params: dict = {"start": query.start, "end_next": query.end + timedelta(days=1)}
    where = []
    for index, condition in enumerate(query.filters):
        column = _dimension_sql(condition.dimension, params, f"f{index}k")
        params[f"f{index}"] = list(condition.values)
        if condition.negate:
            where.append(f"({column} IS NULL OR {column} NOT IN UNNEST(@f{index}))")
        else:
            where.append(f"{column} IN UNNEST(@f{index})")
    if query.currency:
        params["currency"] = query.currency
        where.append("BillingCurrency = @currency")
    groups = [_dimension_sql(name, params, f"g{i}k") for i, name in enumerate(query.group_by)]
    columns = [f"{FOCUS_PARTITION_DAY}", "BillingCurrency", *query.metrics]
    columns += [f"{sql} AS g{i}" for i, sql in enumerate(groups)]
    union = _tables_union(tables, columns, "".join(f" AND {w}" for w in where), params)
    period = {
        "day": f"DATE({FOCUS_PARTITION_DAY})",
        "month": f"DATE_TRUNC(DATE({FOCUS_PARTITION_DAY}), MONTH)",
        "total": None,
    }[query.granularity]
    keys = ([f"{period} AS period"] if period else []) + ["BillingCurrency AS currency"]
    keys += [f"g{i}" for i in range(len(groups))]
    names = (["period"] if period else []) + ["currency"] + [f"g{i}" for i in range(len(groups))]
    sums = [f"SUM({metric}) AS m{i}" for i, metric in enumerate(query.metrics)]
    sql = (
        f"SELECT {', '.join(keys + sums)}\nFROM (\n{union}\n) AS costs\n"
        f"GROUP BY {', '.join(names)}\nLIMIT {MAX_GROUPS + 1}"
    )
    return Statement(sql, params)


def coverage_statement(query: CostQuery, tables: list[tuple[str, str]]) -> Statement:
    """Per source, its first and last charge day within the range (unfiltered)."""
    params: dict = {"start": query.start, "end_next": query.end + timedelta(days=1)}
    union = _tables_union(tables, [FOCUS_PARTITION_DAY], "", params)
    sql = (
        f"SELECT source, MIN(DATE({FOCUS_PARTITION_DAY})) AS first_day, "
        f"MAX(DATE({FOCUS_PARTITION_DAY})) AS last_day\nFROM (\n{union}\n) AS costs\n"
        "GROUP BY source"
    )
    return Statement(sql, params)
