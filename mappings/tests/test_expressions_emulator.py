"""The compiled expressions on the emulator: tolerant timestamps, decimals, lookups, JSON."""

import datetime as dt
import decimal

import pytest

from mappings.expressions import Compiler, expression_parse
from warehouse.bigquery import Column

UTC = dt.UTC


def evaluate(warehouse, dataset, expression: str, target: str, values: list[str | None]):
    """The expression over a one-column STRING table ``v`` holding ``values``, in order."""
    table = f"expr_{abs(hash((expression, tuple(values)))) % 10**8}"
    warehouse.table_create(
        dataset, table, [Column("i", "INT64"), Column("v", "STRING")], replace=True
    )
    warehouse.insert_rows(dataset, table, [{"i": i, "v": v} for i, v in enumerate(values)])
    compiler = Compiler(
        lookups={"size": {"values": {"S": "Small", "L": "Large"}, "default": "Other"}},
        available=frozenset({"v"}),
    )
    sql = compiler.compile(expression_parse(expression), target)
    rows = warehouse.query(
        f"SELECT {sql} AS out FROM {warehouse.quoted(dataset, table)} ORDER BY i",
        compiler.params,
    ).rows
    return [row["out"] for row in rows]


def test_timestamps_without_seconds_or_with_offsets_parse(warehouse, scratch_dataset):
    """OCI's ``2023-11-13T10:00Z``, offsets in every spelling, fractions; junk is NULL."""
    values = [
        "2023-11-13T10:00Z",
        "2023-11-13T10:00",
        "2023-11-13 10:00:00",
        "2023-11-13T12:00+02:00",
        "2023-11-13T12:00:00+0200",
        "2023-11-13T05:00-05",
        "2023-11-13T10:00:00.000Z",
        " 2023-11-13T10:00Z ",
        "not a time",
        "",
    ]
    out = evaluate(warehouse, scratch_dataset, "timestamp(v)", "TIMESTAMP", values)
    ten = dt.datetime(2023, 11, 13, 10, 0, tzinfo=UTC)
    assert out == [ten] * 8 + [None, None]


def test_timestamps_with_explicit_formats(warehouse, scratch_dataset):
    out = evaluate(
        warehouse,
        scratch_dataset,
        "timestamp(v, '%d/%m/%Y %H:%M', '%Y%m%d')",
        "TIMESTAMP",
        ["13/11/2023 10:00", "20231113", "2023-11-13"],
    )
    assert out == [
        dt.datetime(2023, 11, 13, 10, 0, tzinfo=UTC),
        dt.datetime(2023, 11, 13, 0, 0, tzinfo=UTC),
        None,
    ]


def test_decimals_keep_their_digits(warehouse, scratch_dataset):
    out = evaluate(
        warehouse,
        scratch_dataset,
        "decimal(v)",
        "NUMERIC",
        ["0.000000123", " 12.5 ", "-3", "1.81E-8", "x", ""],
    )
    assert out[:4] == [
        decimal.Decimal("0.000000123"),
        decimal.Decimal("12.5"),
        decimal.Decimal("-3"),
        decimal.Decimal("0.000000018"),
    ]
    assert out[4:] == [None, None]


def test_lookup_case_coalesce_and_text(warehouse, scratch_dataset):
    values = ["S", "L", "XL", None]
    assert evaluate(warehouse, scratch_dataset, "lookup(size, v)", "STRING", values) == [
        "Small",
        "Large",
        "Other",
        "Other",
    ]
    assert evaluate(
        warehouse,
        scratch_dataset,
        "case(v, 'S' => 'one', 'L' => 'two', else 'many')",
        "STRING",
        values,
    ) == ["one", "two", "many", "many"]
    assert evaluate(
        warehouse, scratch_dataset, "lower(coalesce(v, concat('NO', 'NE')))", "STRING", values
    ) == ["s", "l", "xl", "none"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [('{"a": 1}', {"a": 1}), ("", None), ("not json", None)],
)
def test_json_text_parses(warehouse, scratch_dataset, text, expected):
    assert evaluate(warehouse, scratch_dataset, "json(v)", "JSON", [text]) == [expected]
