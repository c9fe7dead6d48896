"""A mapping compiled to one ``INSERT … SELECT`` into a FOCUS table, with its parameters."""

from __future__ import annotations

from collections.abc import Iterable

from focus.model import FOCUS_COLUMNS
from mappings.expressions import STRING, ExpressionError
from mappings.format import FOCUS_TYPES, MappingInvalid, MappingIssue, MappingSpec
from warehouse.bigquery import Column
from warehouse.sql_identifiers import sql_render


class MappingSourceError(ValueError):
    """The source table lacks columns the mapping reads."""


def mapping_table_columns(spec: MappingSpec) -> tuple[Column, ...]:
    """The FOCUS table's schema: every FOCUS 1.2 column, then the mapping's ``x_`` columns."""
    return FOCUS_COLUMNS + tuple(Column(name, "STRING") for name in spec.extra_columns)


def mapping_sql(
    spec: MappingSpec,
    *,
    source: str,
    destination: str,
    source_columns: Iterable[str] | None = None,
) -> tuple[str, dict]:
    """The statement filling ``destination`` from ``source`` and its query parameters.

    ``source`` and ``destination`` are ``project.dataset.table`` (checked identifiers). With
    ``source_columns`` (the loaded table's columns) every column the mapping reads must be
    there, those listed ``optional`` read as NULL when absent, and ``json_by_prefix`` finds
    its columns; without it the statement is the one for a source with exactly the columns
    the mapping names.
    """
    available = frozenset(source_columns) if source_columns is not None else spec.source_columns
    missing = sorted(spec.required_source_columns - available)
    if missing:
        raise MappingSourceError(
            f"{spec.file}: the source lacks columns the mapping reads: {', '.join(missing)}"
        )
    compiler = spec.compiler(available)
    selects, names, issues = [], [], []
    for column in [c.name for c in mapping_table_columns(spec)]:
        target = FOCUS_TYPES.get(column, STRING)
        parsed = spec.columns.get(column)
        try:
            expr = compiler.compile(parsed, target) if parsed else f"CAST(NULL AS {target})"
        except ExpressionError as exc:
            issues.append(MappingIssue(spec.file, column, spec.expressions[column], str(exc)))
            continue
        selects.append(f"{expr} AS {column}")
        names.append(column)
    if issues:
        raise MappingInvalid(issues)
    # Only the two table names are placeholders; the select list is spliced in afterwards,
    # so nothing in it is ever read as one.
    insert = sql_render(
        f"INSERT INTO `{{destination}}` ({', '.join(names)})", {"destination": destination}
    )
    source_sql = sql_render("FROM `{source}`", {"source": source})
    body = ",\n  ".join(selects)
    sql = f"{insert}\nSELECT\n  {body}\n{source_sql}"
    return sql, dict(compiler.params)
