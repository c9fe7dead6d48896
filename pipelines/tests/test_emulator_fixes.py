"""The emulator's registered fixes, seen through the real client against the running emulator."""

from decimal import Decimal

import pytest

from pipelines.warehouse import Column, WarehouseError

NINE = "1234.123456789"


def test_cast_to_numeric_keeps_nine_decimals(warehouse):
    """CAST(x AS NUMERIC) is NUMERIC(38, 9) as in BigQuery, not DuckDB's DECIMAL(18, 3)."""
    rows = warehouse.query(
        "SELECT CAST(@v AS NUMERIC) AS cast_numeric, CAST(@v AS DECIMAL) AS cast_decimal, "
        "SAFE_CAST(@v AS NUMERIC) AS safe_cast, PARSE_NUMERIC(@v) AS parsed, "
        "CAST('12345678901234567890123456789.5' AS NUMERIC) AS wide",
        {"v": NINE},
    ).rows
    assert rows == [
        {
            "cast_numeric": Decimal(NINE),
            "cast_decimal": Decimal(NINE),
            "safe_cast": Decimal(NINE),
            "parsed": Decimal(NINE),
            "wide": Decimal("12345678901234567890123456789.5"),
        }
    ]


def test_numeric_columns_keep_nine_decimals(warehouse, scratch_dataset):
    """A NUMERIC column made by CTAS or declared in DDL stores 9 decimals; sums stay exact."""
    ctas = warehouse.quoted(scratch_dataset, "ctas")
    warehouse.query(
        f"CREATE TABLE {ctas} AS SELECT CAST(v AS NUMERIC) AS cost "
        "FROM UNNEST(['0.000000001', '0.000000002', '1.5']) AS v"
    )
    assert warehouse.table_columns(scratch_dataset, "ctas") == [Column("cost", "NUMERIC")]
    assert warehouse.query(f"SELECT SUM(cost) AS total FROM {ctas}").rows == [
        {"total": Decimal("1.500000003")}
    ]
    ddl = warehouse.quoted(scratch_dataset, "ddl")
    warehouse.query(f"CREATE TABLE {ddl} (cost NUMERIC)")
    warehouse.query(f"INSERT INTO {ddl} (cost) VALUES (CAST(@v AS NUMERIC))", {"v": NINE})
    assert warehouse.query(f"SELECT cost FROM {ddl}").rows == [{"cost": Decimal(NINE)}]


# Text the fast NUMERIC parse must read exactly as the 128-bit one: rounding at the tenth
# decimal, the narrow type's edges, values beyond it (> 1e9) and NUMERIC's widest.
PARSED = {
    "0.123456789": "0.123456789",
    "-0.1234567895": "-0.123456790",
    "0.0000000005": "1E-9",
    " 12 ": "12",
    "1e-3": "0.001",
    "999999999.999999999": "999999999.999999999",
    "999999999.9999999995": "1000000000",
    "1000000000": "1000000000",
    "1234567890.123456789": "1234567890.123456789",
    "-98765432109876543210.5": "-98765432109876543210.5",
    "99999999999999999999999999999.999999999": "99999999999999999999999999999.999999999",
}


def test_numeric_parse_keeps_nine_decimals_and_wide_values(warehouse):
    """PARSE_NUMERIC and text cast to NUMERIC (fast where DECIMAL(18, 9) holds the value)
    give the exact value with nine decimals, large values included; NULL stays NULL."""
    rows = warehouse.query(
        "SELECT v, PARSE_NUMERIC(v) AS parsed, CAST(CAST(v AS STRING) AS NUMERIC) AS cast, "
        "SAFE_CAST(TRIM(v) AS NUMERIC) AS safe FROM UNNEST(@values) AS v WITH OFFSET AS i "
        "ORDER BY i",
        {"values": list(PARSED)},
    ).rows
    assert [(r["v"], r["parsed"], r["cast"], r["safe"]) for r in rows] == [
        (text, Decimal(value), Decimal(value), Decimal(value)) for text, value in PARSED.items()
    ]
    nulls = warehouse.query(
        "SELECT PARSE_NUMERIC(CAST(NULL AS STRING)) AS parsed, "
        "CAST(CAST(NULL AS STRING) AS NUMERIC) AS cast, SAFE_CAST(TRIM('x') AS NUMERIC) AS bad"
    ).rows
    assert nulls == [{"parsed": None, "cast": None, "bad": None}]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT PARSE_NUMERIC('abc') AS n",
        "SELECT PARSE_NUMERIC(CAST('' AS STRING)) AS n",
        "SELECT CAST(TRIM('1,5') AS NUMERIC) AS n",
        "SELECT PARSE_NUMERIC('1e40') AS n",
    ],
)
def test_numeric_parse_of_bad_text_is_an_error(warehouse, sql):
    """Text that is no NUMERIC (or too wide for one) is an error, as in BigQuery."""
    with pytest.raises(WarehouseError):
        warehouse.query(sql)


def test_numeric_parse_translation_is_narrow_first():
    """The emulator's translation parses text as DECIMAL(18, 9) first, the 128-bit cast only
    where that fails; run in DuckDB it gives the 128-bit cast's value (or error) for each."""
    import duckdb
    from bqemulator.sql.translator import SQLTranslator

    from pipelines.emulator_fixes import (
        numeric_keeps_nine_decimals,
        numeric_parses_fast_where_it_fits,
    )

    numeric_keeps_nine_decimals()
    numeric_parses_fast_where_it_fits()
    translated = SQLTranslator().translate("SELECT PARSE_NUMERIC(CAST(v AS STRING)) AS n FROM t")
    sql = translated.unwrap()
    assert "TRY_CAST(CAST(v AS TEXT) AS DECIMAL(18, 9))" in sql
    assert "CAST(CAST(v AS TEXT) AS DECIMAL(38, 9))" in sql
    connection = duckdb.connect()
    for text in [*PARSED, "abc", "", "1e40", "--1", None]:
        connection.execute("CREATE OR REPLACE TABLE t AS SELECT CAST(? AS VARCHAR) AS v", [text])
        try:
            expected = connection.execute("SELECT CAST(v AS DECIMAL(38, 9)) FROM t").fetchall()
        except duckdb.ConversionException:
            with pytest.raises(duckdb.ConversionException):
                connection.execute(sql)
            continue
        assert connection.execute(sql).fetchall() == expected, text
    assert connection.execute(f"SELECT typeof(n) FROM ({sql})").fetchall() == [("DECIMAL(38,9)",)]


def test_explicit_numeric_precision_is_kept(warehouse):
    """A parameterized NUMERIC(P, S) keeps its own scale; the fix only fills in the default."""
    rows = warehouse.query("SELECT CAST('1.239' AS NUMERIC(10, 2)) AS two").rows
    assert rows == [{"two": Decimal("1.24")}]


def test_duckdb_memory_is_capped(warehouse):
    """The emulator's DuckDB has a memory cap (spilling beyond it), not 80 % of the machine.

    DuckDB's own ``current_setting``, not BigQuery SQL: this reads the emulator's engine.
    """
    from pipelines.emulator_fixes import EMULATOR_MEMORY_LIMIT

    cap = warehouse.query("SELECT current_setting('memory_limit') AS cap").rows[0]["cap"]
    mebibytes = int(EMULATOR_MEMORY_LIMIT.removesuffix("MB")) * 1000**2 / 1024**2
    value, unit = cap.split()
    assert unit == "MiB"
    assert abs(float(value) - mebibytes) < 0.2


def test_time_travel_reads_the_table_after_writes(warehouse, scratch_dataset):
    """Writes make no time-travel copy; FOR SYSTEM_TIME AS OF still answers, from the table."""
    table = warehouse.quoted(scratch_dataset, "tt")
    warehouse.query(f"CREATE TABLE {table} AS SELECT 1 AS n")
    warehouse.query(f"INSERT INTO {table} (n) VALUES (2)")
    rows = warehouse.query(
        f"SELECT SUM(n) AS total FROM {table} FOR SYSTEM_TIME AS OF CURRENT_TIMESTAMP()"
    ).rows
    assert rows == [{"total": 3}]
