"""The costs statements: every table read only within the range's partitions, every value and
tag key a query parameter."""

import datetime as dt

import sqlglot
from sqlglot import exp

from costs.export import export_statement
from costs.query import CostQuery, Filter, costs_statement, coverage_statement

TABLES = [
    ("aws", "`p.t_local.aws_cost_focus`"),
    ("oci", "`p.t_local.oci_cost_focus`"),
    ("focus", "`p.t_local.focus_cost_native`"),
]
KEY = "team's `x`"
QUERY = CostQuery(
    start=dt.date(2024, 1, 1),
    end=dt.date(2024, 3, 31),
    granularity="month",
    metrics=("BilledCost", "ListCost"),
    group_by=("ProviderName", "Tags.team"),
    filters=(Filter("ServiceName", ("EC2", "S3"), negate=True),),
    currency="USD",
)


def _table_reads(sql: str) -> list[tuple[str, exp.Select]]:
    """Each table the statement reads, with the SELECT that reads it."""
    tree = sqlglot.parse_one(sql, read="bigquery")
    return [(t.name, t.find_ancestor(exp.Select)) for t in tree.find_all(exp.Table)]


def _partition_bounded(select: exp.Select) -> bool:
    where = select.args["where"].sql(dialect="bigquery")
    return (
        "ChargePeriodStart >= TIMESTAMP(@start)" in where
        and "ChargePeriodStart < TIMESTAMP(@end_next)" in where
    )


def test_each_table_is_read_within_the_range_only():
    """Each statement reads each table in its own branch, restricted by a constant range on
    the partitioning column (what BigQuery prunes partitions by)."""
    statements = [
        costs_statement(QUERY, TABLES).sql,
        coverage_statement(QUERY, TABLES).sql,
        export_statement([t for _, t in TABLES], QUERY.start, QUERY.end)[0],
    ]
    for sql in statements:
        reads = _table_reads(sql)
        assert sorted(name for name, _ in reads) == sorted(
            ["aws_cost_focus", "oci_cost_focus", "focus_cost_native"]
        ), sql
        assert all(_partition_bounded(select) for _, select in reads), sql


def test_values_and_tag_keys_are_parameters():
    """Filter values, the currency, tag keys and provider labels never enter the SQL text."""
    query = CostQuery(
        start=dt.date(2024, 1, 1),
        end=dt.date(2024, 1, 31),
        group_by=("Tags.team",),
        filters=(Filter("Tags.env", ("o'brien", "`drop`")),),
    )
    statement = costs_statement(query, TABLES)
    without_tables = statement.sql
    for _, table in TABLES:
        without_tables = without_tables.replace(table, "")
    for text in ("o'brien", "`drop`", "team", "env", "aws", "oci"):
        assert text not in without_tables
    assert statement.params["g0k"] == "team"
    assert statement.params["f0k"] == "env"
    assert statement.params["f0"] == ["o'brien", "`drop`"]
    assert "JSON_VALUE(Tags[@g0k])" in statement.sql
    assert statement.sql.rstrip().endswith("LIMIT 10001")
