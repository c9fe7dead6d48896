"""The SQL of every shipped mapping is kept as a fixture: equal to the compiler's output, and
valid BigQuery SQL as sqlglot's BigQuery dialect parses it (checkable outside the emulator).

After changing a mapping or the compiler on purpose, rewrite the fixtures with
``MAPPING_SQL_UPDATE=1 .venv/bin/python -m pytest mappings/tests/test_mapping_sql.py`` and
review the diff.
"""

import json
import os
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from focus.model import FOCUS_COLUMN_NAMES
from mappings.shipped import shipped_mappings, shipped_mappings_validate
from mappings.sql import mapping_sql
from warehouse.files import column_names_from_header

DATA = Path(__file__).parent / "data"
FIXTURES = DATA / "mapping_sql"
# Each shipped mapping's sample file: its header is the source the SQL is compiled for.
SAMPLES = {"oci": "oci_cost_report_sample.csv", "focus_csv": "focus_csv_sample.csv"}
SOURCE = "convergence-test.tenant_acme.mapped_raw"
DESTINATION = "convergence-test.tenant_acme.cost_focus"


def compiled(name: str) -> str:
    spec = next(s for s in shipped_mappings() if s.name == name)
    header = (DATA / SAMPLES[name]).read_text(encoding="utf-8").splitlines()[0].split(",")
    sql, params = mapping_sql(
        spec,
        source=SOURCE,
        destination=DESTINATION,
        source_columns=column_names_from_header(header),
    )
    lines = [
        f"-- {spec.file}, compiled for a source with the columns of {SAMPLES[name]}.",
        "-- Query parameters:",
        *(f"-- @{key} = {json.dumps(value, default=str)}" for key, value in params.items()),
    ]
    return "\n".join(lines) + "\n" + sql + "\n"


def test_every_shipped_mapping_is_valid_and_has_a_sample():
    """Shipped mapping files all validate, and each has a sample to compile its fixture for."""
    assert shipped_mappings_validate() == []
    assert {s.name for s in shipped_mappings()} == set(SAMPLES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_fixture_is_the_compilers_output(name):
    """The kept statement is exactly what the compiler makes of the shipped mapping."""
    path = FIXTURES / f"{name}.sql"
    text = compiled(name)
    if os.environ.get("MAPPING_SQL_UPDATE"):
        path.write_text(text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_fixture_parses_as_bigquery_sql(name):
    """The kept statement parses in the BigQuery dialect: one INSERT of every FOCUS column,
    reading only its source, every value a backquoted column, a parameter or a function."""
    text = (FIXTURES / f"{name}.sql").read_text(encoding="utf-8")
    statements = sqlglot.parse(text, read="bigquery", error_level=sqlglot.ErrorLevel.RAISE)
    assert len(statements) == 1
    insert = statements[0]
    assert isinstance(insert, exp.Insert)
    target = insert.this
    assert [c.name for c in target.expressions][: len(FOCUS_COLUMN_NAMES)] == list(
        FOCUS_COLUMN_NAMES
    )
    tables = {".".join(p.name for p in t.parts) for t in insert.find_all(exp.Table)}
    assert tables == {SOURCE, DESTINATION}
    # Literals in the SQL are only the compiler's own: empty strings, JSON punctuation and
    # the month interval of month_end().
    literals = {lit.this for lit in insert.find_all(exp.Literal) if lit.is_string}
    assert literals <= {"", "{", "}", ",", ":", "1", "MONTH"}
    params = {p.name for p in insert.find_all(exp.Parameter)} | {
        p.name for p in insert.find_all(exp.Placeholder)
    }
    assert params, "literals travel as query parameters"
