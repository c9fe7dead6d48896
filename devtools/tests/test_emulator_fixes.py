"""The emulator's registered fixes, seen through the real client against the running emulator."""

import datetime as dt
from contextlib import contextmanager
from decimal import Decimal

import pytest

from warehouse.bigquery import Column, WarehouseError

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

    from devtools.emulator_fixes import (
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
    from devtools.emulator_fixes import EMULATOR_MEMORY_LIMIT

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


def test_ephemeral_tables_are_in_memory_by_default(warehouse, scratch_dataset):
    """The ephemeral emulator keeps its tables in DuckDB's in-memory database (under the
    memory cap, spilling beyond it); a file only when asked for (next test).

    DuckDB's own ``duckdb_databases()``, not BigQuery SQL: this reads the emulator's engine.
    """
    table = warehouse.quoted(scratch_dataset, "stored")
    warehouse.query(f"CREATE TABLE {table} AS SELECT x FROM UNNEST(GENERATE_ARRAY(1, 1000)) AS x")
    databases = warehouse.query(
        "SELECT database_name AS name, path FROM duckdb_databases() WHERE NOT internal"
    ).rows
    assert databases == [{"name": "memory", "path": None}]
    assert warehouse.query(f"SELECT SUM(x) AS total FROM {table}").rows == [{"total": 500500}]


def test_ephemeral_tables_go_to_a_temporary_file_on_request(tmp_path, monkeypatch):
    """``EMULATOR_EPHEMERAL_STORE=file``: a second ephemeral emulator keeps its tables in a
    DuckDB file in a temporary directory, removed when it stops."""
    import tempfile
    from pathlib import Path

    monkeypatch.setenv("EMULATOR_EPHEMERAL_STORE", "file")
    with _own_emulator("file-store", tmp_path) as warehouse:
        warehouse.dataset_create("stored")
        table = warehouse.quoted("stored", "numbers")
        warehouse.query(
            f"CREATE TABLE {table} AS SELECT x FROM UNNEST(GENERATE_ARRAY(1, 1000)) AS x"
        )
        (path,) = [
            Path(r["path"])
            for r in warehouse.query("SELECT path FROM duckdb_databases() WHERE NOT internal").rows
        ]
        assert path.is_file() and path.is_relative_to(Path(tempfile.gettempdir()))
        assert warehouse.query(f"SELECT SUM(x) AS total FROM {table}").rows == [{"total": 500500}]
    assert not path.parent.exists()


@contextmanager
def _own_emulator(project: str, tmp_path):
    """A second emulator, started with this process's environment (a test's monkeypatched
    settings), on a free port; stopped on the way out. Yields a Warehouse on it."""
    from devtools.emulator import emulator_start, emulator_wait, free_port
    from warehouse.bigquery import Warehouse

    port = free_port()
    process = emulator_start(project=project, rest_port=port, log_path=tmp_path / "emu.log")
    try:
        emulator_wait(f"http://127.0.0.1:{port}", process=process)
        yield Warehouse(project=project, endpoint=f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_load_leaves_the_row_order_setting_as_it_was(warehouse, scratch_dataset, tmp_path):
    """A load job runs without insertion order (BigQuery promises none); queries after it
    keep DuckDB's default."""
    path = tmp_path / "rows.csv"
    path.write_text("id,cost\n" + "".join(f"r{i},{i}\n" for i in range(5000)))
    columns = [Column("id", "STRING"), Column("cost", "NUMERIC")]
    assert warehouse.load_file(path, scratch_dataset, "rows", columns=columns).rows_loaded == 5000
    table = warehouse.quoted(scratch_dataset, "rows")
    assert warehouse.query(
        f"SELECT COUNT(DISTINCT id) AS n, SUM(cost) AS total FROM {table}"
    ).rows == [{"n": 5000, "total": Decimal(sum(range(5000)))}]
    setting = "SELECT current_setting('preserve_insertion_order') AS kept"
    assert warehouse.query(setting).rows == [{"kept": True}]


def test_an_insert_runs_without_row_order_and_queries_after_it_keep_it(warehouse, scratch_dataset):
    """An ``INSERT ... SELECT`` (a table has no row order) runs with DuckDB's
    ``preserve_insertion_order`` off, read here by the statement itself; a query keeps it."""
    table = warehouse.quoted(scratch_dataset, "order_seen")
    warehouse.query(f"CREATE TABLE {table} (kept BOOL)")
    warehouse.query(
        f"INSERT INTO {table} (kept) SELECT current_setting('preserve_insertion_order')"
    )
    assert warehouse.query(f"SELECT kept FROM {table}").rows == [{"kept": False}]
    setting = "SELECT current_setting('preserve_insertion_order') AS kept"
    assert warehouse.query(setting).rows == [{"kept": True}]


def test_a_gzip_upload_above_the_emulators_own_limit_loads(tmp_path, monkeypatch):
    """An upload larger than ``BQEMU_UPLOAD_MAX_BYTES`` loads: the cap is BigQuery's 5 TiB.

    A second emulator with its limit set to 1 MiB, and a 2 MiB gzip CSV (hashes do not
    compress), sent in 256 KiB chunks.
    """
    import gzip
    import hashlib

    from google.cloud.bigquery import client as bigquery_client

    monkeypatch.setenv("BQEMU_UPLOAD_MAX_BYTES", str(1024 * 1024))
    monkeypatch.setattr(bigquery_client, "_DEFAULT_CHUNKSIZE", 256 * 1024)
    rows = [hashlib.sha256(b"%d" % i).hexdigest() for i in range(70_000)]
    path = tmp_path / "big.csv.gz"
    path.write_bytes(gzip.compress(("id\n" + "\n".join(rows) + "\n").encode(), compresslevel=1))
    assert path.stat().st_size > 2 * 1024 * 1024
    with _own_emulator("upload-cap", tmp_path) as warehouse:
        warehouse.dataset_create("big")
        loaded = warehouse.load_file(path, "big", "ids", columns=[Column("id", "STRING")])
        assert loaded.rows_loaded == 70_000
        table = warehouse.quoted("big", "ids")
        assert warehouse.query(f"SELECT COUNT(DISTINCT id) AS n FROM {table}").rows == [
            {"n": 70_000}
        ]


def test_sql_ddl_behind_comments_still_reaches_the_catalog(warehouse, scratch_dataset):
    """The DDL detectors read the first keyword after comments: a commented ``CREATE TABLE``
    and ``DROP TABLE`` still register and remove the table (the dataset's table list), and
    an ``INSERT`` changes nothing there."""
    table = warehouse.quoted(scratch_dataset, "made_by_sql")
    warehouse.query(f"-- made here\n/* and here */ CREATE TABLE {table} (n INT64)")
    assert "made_by_sql" in warehouse.tables_list(scratch_dataset)
    warehouse.query(f"# a comment\nINSERT INTO {table} (n) VALUES (1)")
    assert warehouse.tables_list(scratch_dataset).count("made_by_sql") == 1
    warehouse.query(f"/* gone */ DROP TABLE {table}")
    assert "made_by_sql" not in warehouse.tables_list(scratch_dataset)


def test_a_replacing_merge_deletes_and_inserts_all_or_nothing(warehouse, scratch_dataset):
    """The MERGE that replaces billing periods (ON FALSE: delete the matching target rows,
    insert every source row) does what it says, and a failing insert deletes nothing."""
    from focus.periods import period_params, periods_replace_sql

    names = ["BillingPeriodStart", "ChargePeriodStart", "v"]
    periods = [Column("BillingPeriodStart", "TIMESTAMP"), Column("ChargePeriodStart", "TIMESTAMP")]
    for table, kind in (("target", "STRING"), ("good", "STRING"), ("ints", "INT64")):
        warehouse.table_create(scratch_dataset, table, [*periods, Column("v", kind)])
    rows = {
        "target": "(TIMESTAMP '2023-11-01', TIMESTAMP '2023-11-02', 'old november'), "
        "(TIMESTAMP '2023-12-01', TIMESTAMP '2023-12-02', 'december')",
        "good": "(TIMESTAMP '2023-11-01', TIMESTAMP '2023-11-03', 'new november')",
        "ints": "(TIMESTAMP '2023-12-01', TIMESTAMP '2023-12-02', 7)",
    }
    for table, values in rows.items():
        warehouse.query(f"INSERT INTO {warehouse.quoted(scratch_dataset, table)} VALUES {values}")
    november = dt.datetime(2023, 11, 1, tzinfo=dt.UTC)
    december = dt.datetime(2023, 12, 1, tzinfo=dt.UTC)
    january = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    target, good = (warehouse.table_ref(scratch_dataset, t) for t in ("target", "good"))

    result = warehouse.query(
        periods_replace_sql(target, good, names, 1), period_params([november], november, december)
    )

    assert result.rows_affected == 2
    found = warehouse.query(f"SELECT v FROM `{target}` ORDER BY v").rows
    assert found == [{"v": "december"}, {"v": "new november"}]
    # Text into an INT64 column fails the insert after the delete ran: nothing is deleted.
    ints = warehouse.table_ref(scratch_dataset, "ints")
    with pytest.raises(WarehouseError):
        warehouse.query(
            periods_replace_sql(ints, target, names, 1),
            period_params([december], december, january),
        )
    assert warehouse.query(f"SELECT v FROM `{ints}`").rows == [{"v": 7}]
