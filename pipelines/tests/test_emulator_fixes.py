"""The emulator's registered fixes, seen through the real client against the running emulator."""

from decimal import Decimal

from pipelines.warehouse import Column

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
