"""SQL building blocks the per-provider FOCUS modules share: typed parses, literals and CASE
lists of constants, JSON objects, and how an expression names the export's columns."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from warehouse.sql_identifiers import sql_render


def num(expr: str) -> str:
    # PARSE_NUMERIC over a STRING: the emulator casts to NUMERIC with three decimals only,
    # and a CSV loaded by autodetect may hold FLOAT64; STRING first accepts both.
    return f"PARSE_NUMERIC(CAST({expr} AS STRING))"


def as_float(expr: str) -> str:
    return f"SAFE_CAST(CAST({expr} AS STRING) AS FLOAT64)"


def as_string(expr: str) -> str:
    return f"CAST({expr} AS STRING)"


def quote(value: str) -> str:
    if "'" in value or "\\" in value or "{" in value:
        raise ValueError(f"{value!r} cannot be a SQL literal here")
    return f"'{value}'"


def in_list(values: Iterable[str]) -> str:
    return ", ".join(quote(v) for v in values)


def case(expr: str, mapping: Mapping[str, Iterable[str]], default: str) -> str:
    """A CASE over constant string lists; the lists are ours, never user input."""
    branches = " ".join(
        f"WHEN {expr} IN ({in_list(values)}) THEN {quote(out)}" for out, values in mapping.items()
    )
    return f"CASE {branches} ELSE {default} END"


def lookup(expr: str, mapping: Mapping[str, str], default: str) -> str:
    """A CASE mapping each constant key to its constant value."""
    branches = " ".join(f"WHEN {quote(k)} THEN {quote(v)}" for k, v in mapping.items())
    return f"CASE {expr} {branches} ELSE {default} END"


def json_object(pairs: Mapping[str, str]) -> str:
    """A JSON object of constant keys and STRING expressions; NULL members are left out.

    Built as text: the emulator cannot build JSON from arrays (JSON_OBJECT, TO_JSON).
    """
    members = ", ".join(
        f"IF({expr} IS NULL, NULL, CONCAT('\"{key}\":', TO_JSON_STRING({expr})))"
        for key, expr in pairs.items()
    )
    return f"PARSE_JSON(CONCAT('{{', ARRAY_TO_STRING([{members}], ','), '}}'))"


def cur2_name(cur1: str) -> str:
    """CUR 2.0's snake_case name of a CUR 1.0 column: ``lineItem_UnblendedCost`` →
    ``line_item_unblended_cost``."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", cur1).lower()


MARKER = re.compile(r"\[\[([A-Za-z_][A-Za-z0-9_]*)\]\]")
REFERENCE = re.compile(r"\{(EffectiveCost|payer_name|usage_account_name)\}")


# The same field under another name in another export: MCA cost details (camelCase, and
# these renamed) and EA exports with ``Cost``, against the EA names the mappings use.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "CostInBillingCurrency": ("Cost",),
    "BillingCurrencyCode": ("BillingCurrency",),
    "PricingCurrencyCode": ("PricingCurrency",),
    "ResourceGroup": ("ResourceGroupName",),
}


def source_column(name: str, available: frozenset[str] | None) -> str | None:
    """The export's column holding ``name``: as written, its CUR 2.0 snake_case name, or an
    alias; matched without regard to case (BigQuery names are case-insensitive, and MCA
    exports write ``costInBillingCurrency`` for EA's ``CostInBillingCurrency``)."""
    if available is None or name in available:
        return name
    by_lower = {column.lower(): column for column in available}
    for candidate in (name, cur2_name(name), *COLUMN_ALIASES.get(name, ())):
        if candidate.lower() in by_lower:
            return by_lower[candidate.lower()]
    # Separators where providers vary (Athena's and CUR 2.0's ``line_item_…``, a header
    # written with blanks or dots): compared without them, only when nothing matched above.
    bare = {re.sub(r"[^a-z0-9]", "", column.lower()): column for column in available}
    for candidate in (name, *COLUMN_ALIASES.get(name, ())):
        key = re.sub(r"[^a-z0-9]", "", candidate.lower())
        if key in bare:
            return bare[key]
    return None


def resolve(expr: str, available: frozenset[str] | None) -> str:
    """Raw-column markers become the column, or a typed NULL when the export lacks it."""

    def column(match: re.Match) -> str:
        return source_column(match.group(1), available) or "CAST(NULL AS STRING)"

    return MARKER.sub(column, expr)


def outer_columns(columns: Mapping[str, str], names: Mapping[str, str]) -> dict[str, str]:
    """The outer expressions with their references filled: another column's expression, or
    an account's name from the provider config (``{payer_name}``), NULL when none given."""
    lookups = {
        "payer_name": names.get("payer", "CAST(NULL AS STRING)"),
        "usage_account_name": names.get("usage", "CAST(NULL AS STRING)"),
    }
    filled = {}
    for name, expr in columns.items():
        filled[name] = REFERENCE.sub(
            lambda m: f"({columns[m.group(1)]})" if m.group(1) in columns else lookups[m.group(1)],
            expr,
        )
    return filled


def select_list(columns: Mapping[str, str], order: Iterable[str]) -> str:
    return ",\n  ".join(f"{columns[name]} AS {name}" for name in order)


def source_totals_sql(source: str, exprs: Mapping[str, str]) -> str:
    """One query over the raw export summing each named row expression, one column per name
    (every total a ``dq.check`` step takes from one source, in one scan of it)."""
    inner = ", ".join(f"{expr} AS {name}" for name, expr in exprs.items())
    sums = ", ".join(f"SUM({name}) AS {name}" for name in exprs)
    return sql_render(f"SELECT {sums} FROM (SELECT {inner} FROM `{{source}}`)", {"source": source})


def nested_select(
    outer: Mapping[str, str],
    inner: Mapping[str, str],
    available: frozenset[str] | None,
    order: Iterable[str],
    *,
    where: str = "",
    after: str = "",
) -> str:
    """``SELECT <outer> FROM (SELECT <inner> FROM source <where>) AS s <after>``: the inner
    select parses each raw column once (markers resolved against ``available``), the outer
    builds the FOCUS columns from it."""
    inner_list = ",\n    ".join(
        f"{resolve(expr, available)} AS {alias}" for alias, expr in inner.items()
    )
    return (
        f"SELECT\n  {select_list(outer, order)}\n"
        f"FROM (\n  SELECT\n    {inner_list}\n  FROM `{{source}}`{where}\n) AS s{after}"
    )
