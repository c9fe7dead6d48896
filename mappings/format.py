"""Mapping files: YAML saying, per FOCUS column, how to compute it from a source's columns.

Parsed and checked once, as pipeline configs are. Every problem names the mapping (its file
or name), the FOCUS column and the expression, and all of them are reported at once.
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping
from dataclasses import dataclass

import yaml

from core.yaml_loader import yaml_load
from focus.model import FOCUS_COLUMNS, MANDATORY_COLUMNS, NOT_NULL_COLUMNS, PROVIDERS
from mappings.expressions import (
    STRING,
    Compiler,
    ExpressionError,
    Literal,
    Parsed,
    expression_parse,
)
from warehouse.sql_identifiers import NAME_PATTERN

# A mapping's name is also its provider name in the run route and its tables' prefix.
MAPPING_NAME = re.compile(r"\A[a-z][a-z0-9_]{1,31}\Z")
# Names the shipped pipeline configs hold (their own SQL), and the platform's own.
RESERVED_NAMES = frozenset({*PROVIDERS, "system", "example", "mapping", "mappings"})
TOP_LEVEL = frozenset({"name", "description", "source", "lookups", "columns"})
SOURCE_FIELDS = frozenset({"billed_cost", "optional"})
FOCUS_TYPES = {c.name: c.type for c in FOCUS_COLUMNS}
# Every column FOCUS 1.2 requires in a dataset, and those it requires filled on every row.
REQUIRED_COLUMNS = tuple(dict.fromkeys((*MANDATORY_COLUMNS, *NOT_NULL_COLUMNS)))
MAX_LOOKUP_VALUES = 2000
MAX_TEXT = 200_000


@dataclass(frozen=True)
class MappingIssue:
    file: str
    column: str
    expression: str
    problem: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.column}" if self.column else self.file
        if self.expression:
            where += f": {self.expression!r}"
        return f"{where}: {self.problem}"


class MappingInvalid(ValueError):
    """A mapping failed validation; ``issues`` lists every problem."""

    def __init__(self, issues: list[MappingIssue]) -> None:
        self.issues = issues
        super().__init__("; ".join(str(i) for i in issues))


@dataclass(frozen=True)
class MappingSpec:
    """A checked mapping: each output column's parsed expression, in FOCUS order."""

    name: str
    file: str
    description: str
    billed_cost: str
    optional: frozenset[str]
    lookups: Mapping[str, Mapping]
    columns: Mapping[str, Parsed]
    expressions: Mapping[str, str]

    @property
    def source_columns(self) -> frozenset[str]:
        """Every source column the mapping reads (json_by_prefix's columns aside)."""
        found: set[str] = {self.billed_cost}
        for parsed in self.columns.values():
            found |= parsed.columns
        return frozenset(found)

    @property
    def required_source_columns(self) -> frozenset[str]:
        return self.source_columns - self.optional

    @property
    def extra_columns(self) -> tuple[str, ...]:
        return tuple(name for name in self.columns if name not in FOCUS_TYPES)

    def compiler(self, available: frozenset[str] | None = None) -> Compiler:
        return Compiler(lookups=self.lookups, available=available, optional=self.optional)


def mapping_name_check(name: object) -> str:
    """The name if a mapping may have it; ValueError saying why not."""
    if not isinstance(name, str) or not MAPPING_NAME.match(name):
        raise ValueError(
            "a mapping name is 2-32 characters of a-z, 0-9 and _, starting with a letter"
        )
    if name in RESERVED_NAMES:
        raise ValueError(f"{name!r} is a built-in provider or reserved; choose another name")
    return name


def mapping_parse(text: str, *, file: str, name: str | None = None) -> MappingSpec:
    """A MappingSpec from YAML text, or MappingInvalid naming every problem.

    ``name``, when given, is the name the mapping is stored under; the file's ``name``
    must agree with it.
    """
    issues: list[MappingIssue] = []

    def issue(column: str, expression: object, problem: str) -> None:
        if expression is None:
            shown = "null"
        elif isinstance(expression, str | int | float):
            shown = str(expression)
        else:
            shown = ""
        issues.append(MappingIssue(file, column, shown, problem))

    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise MappingInvalid(
            [MappingIssue(file, "", "", f"must be YAML text of at most {MAX_TEXT} characters")]
        )
    try:
        data = yaml_load(text)
    except yaml.YAMLError as exc:
        raise MappingInvalid([MappingIssue(file, "", "", f"not valid YAML: {exc}")]) from None
    if not isinstance(data, Mapping):
        raise MappingInvalid([MappingIssue(file, "", "", "must be a YAML mapping")])
    for key in sorted(set(data) - TOP_LEVEL, key=str):
        issue(str(key), "", "unknown field")

    declared = data.get("name", name)
    try:
        mapping_name_check(declared)
        if name is not None and declared != name:
            issue("name", "", f"is {declared!r} but the mapping is stored as {name!r}")
    except ValueError as exc:
        issue("name", "", str(exc))
    description = data.get("description") or ""
    if not isinstance(description, str) or len(description) > 500:
        issue("description", "", "must be text of at most 500 characters")
        description = ""

    source = data.get("source")
    billed_cost, optional = "", frozenset()
    if not isinstance(source, Mapping):
        issue("source", "", "required: {billed_cost: <the source's cost column>, optional: […]}")
    else:
        for key in sorted(set(source) - SOURCE_FIELDS, key=str):
            issue(f"source.{key}", "", "unknown field")
        billed_cost = source.get("billed_cost")
        if not isinstance(billed_cost, str) or not NAME_PATTERN.match(billed_cost):
            issue(
                "source.billed_cost",
                billed_cost,
                "required: the source column holding each row's billed cost, as loaded "
                "(e.g. cost_myCost)",
            )
            billed_cost = ""
        listed = source.get("optional") or []
        if not isinstance(listed, list) or not all(
            isinstance(c, str) and NAME_PATTERN.match(c) for c in listed
        ):
            issue("source.optional", "", "must be a list of column names")
        else:
            optional = frozenset(listed)

    lookups = _lookups(data.get("lookups"), issue)

    columns_raw = data.get("columns")
    parsed: dict[str, Parsed] = {}
    expressions: dict[str, str] = {}
    if not isinstance(columns_raw, Mapping) or not columns_raw:
        issue("columns", "", "required: a mapping of FOCUS column to expression")
        columns_raw = {}
    compiler = Compiler(lookups=lookups)
    for column, expression in columns_raw.items():
        column = str(column)
        if column not in FOCUS_TYPES and not (
            column.startswith("x_") and NAME_PATTERN.match(column)
        ):
            issue(column, expression, "not a FOCUS 1.2 column (custom columns start with x_)")
            continue
        try:
            found = expression_parse(expression)
            compiler.compile(found, FOCUS_TYPES.get(column, STRING))
        except ExpressionError as exc:
            issue(column, expression, str(exc))
            continue
        if (
            column in NOT_NULL_COLUMNS
            and isinstance(found.tree, Literal)
            and found.tree.value is None
        ):
            issue(column, expression, "FOCUS requires a value on every row; null is not one")
            continue
        parsed[column] = found
        expressions[column] = expression if isinstance(expression, str) else str(expression)
    for column in REQUIRED_COLUMNS:
        if column not in columns_raw:
            issue(column, "", "missing: FOCUS 1.2 requires this column (give an expression)")
    if issues:
        raise MappingInvalid(issues)
    order = [c.name for c in FOCUS_COLUMNS] + sorted(set(parsed) - set(FOCUS_TYPES))
    return MappingSpec(
        name=declared,
        file=file,
        description=description.strip(),
        billed_cost=billed_cost,
        optional=optional,
        lookups=types.MappingProxyType(lookups),
        columns=types.MappingProxyType({c: parsed[c] for c in order if c in parsed}),
        expressions=types.MappingProxyType(expressions),
    )


def _lookups(raw: object, issue) -> dict[str, Mapping]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        issue("lookups", "", "must map a table name to {values: {key: value}, default: …}")
        return {}
    tables: dict[str, Mapping] = {}
    for name, spec in raw.items():
        where = f"lookups.{name}"
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            issue(where, "", "lookup table names are identifiers")
            continue
        if not isinstance(spec, Mapping) or set(spec) - {"values", "default"}:
            issue(where, "", "must be {values: {key: value}, default: …}")
            continue
        values = spec.get("values")
        if (
            not isinstance(values, Mapping)
            or not values
            or len(values) > MAX_LOOKUP_VALUES
            or not all(_scalar(k) and _scalar(v) for k, v in values.items())
        ):
            issue(
                f"{where}.values", "", f"must map 1 to {MAX_LOOKUP_VALUES} text keys to text values"
            )
            continue
        default = spec.get("default")
        if default is not None and not _scalar(default):
            issue(f"{where}.default", "", "must be text")
            continue
        tables[name] = types.MappingProxyType(
            {
                "values": types.MappingProxyType({str(k): str(v) for k, v in values.items()}),
                "default": None if default is None else str(default),
            }
        )
    return tables


def _scalar(value: object) -> bool:
    return (
        isinstance(value, str | int | float)
        and not isinstance(value, bool)
        and len(str(value)) <= 500
    )
