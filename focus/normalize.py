"""FOCUS normalization in SQL, one ``INSERT … SELECT`` per run over the raw export, built by
the source provider's module; and the source totals the data-quality step reconciles.

The FOCUS table is created with its schema first (names and types exactly as the spec
writes them), then filled by one statement that reads the raw table once: an inner select
parses each raw column once, the outer one builds the FOCUS columns from it. The mapping per
provider is documented in ``docs/focus.md``."""

from __future__ import annotations

from types import ModuleType

from focus import aws, azure, gcp, native
from focus.model import PROVIDERS, focus_table_columns, provider_check
from focus.variants import MAPPED_VARIANTS, Variant, variant_detect
from warehouse.sql_identifiers import sql_render

# Each source provider's module (``focus/<provider>.py``) declares ``VARIANTS`` (the exports
# it reads, told apart by their header, each with the columns it cannot do without),
# ``ACCOUNTS`` (its payer and usage account id expressions) and builds its ``select``,
# ``total`` and ``amortized_total``.
SOURCES: dict[str, ModuleType] = {"aws": aws, "azure": azure, "gcp": gcp, "focus": native}
assert set(SOURCES) == set(PROVIDERS)
#: The pipeline a tenant runs for each provider's exports.
PIPELINES = {p: f"{p}/cost/focus" for p in SOURCES} | {"focus": "focus/cost/native"}

#: Every export variant a pipeline reads (or recognises to refuse), each source module's
#: ``VARIANTS`` and the mapped sources': told apart by their header (``focus/variants.py``).
VARIANTS: tuple[Variant, ...] = (
    *(v for module in SOURCES.values() for v in module.VARIANTS),
    *MAPPED_VARIANTS,
)


def source_variant(pipeline: str, columns) -> Variant | None:
    """The variant ``columns`` (a header, or a raw table's names) is, for a run of ``pipeline``
    (``azure/cost/focus``); None for a pipeline no variant is declared for (a tenant's own
    mapping). Raises ``VariantRefused`` (a ``FocusSourceError``) naming the closest variant,
    the columns it lacked and what to export instead."""
    if not any(v.pipeline == pipeline for v in VARIANTS):
        return None
    return variant_detect(columns, pipeline=pipeline, variants=VARIANTS)


def source_module(provider: str) -> ModuleType:
    provider_check(provider)
    return SOURCES[provider]


def focus_sql(
    provider: str,
    *,
    source: str,
    destination: str,
    source_columns=None,
    account_names: bool = False,
    map_columns: frozenset[str] = frozenset(),
) -> str:
    """``INSERT INTO destination (<FOCUS columns>) SELECT … FROM source``, one pass.

    The destination must exist with ``focus_table_columns(provider)`` (the processor
    creates it). ``source`` and ``destination`` are ``project.dataset.table`` and are checked
    as identifiers. ``source_columns`` (the raw table's column names) lets a CUR or Azure
    export that lacks optional columns normalize with NULLs; required ones must be there.
    With ``account_names`` the statement reads the query parameters ``@account_ids`` and
    ``@account_names`` (the tenant's names for its accounts, from its provider config).
    For GCP the columns tell the detailed (resource-level) export from the standard one.
    ``map_columns``: the source's columns loaded from Parquet maps (repeated key/value
    records: a CUR 2.0 Parquet export's ``resource_tags``).
    """
    module = source_module(provider)
    available = frozenset(source_columns) if source_columns is not None else None
    variant = source_variant(PIPELINES[provider], available) if available is not None else None
    order = [c.name for c in focus_table_columns(provider)]
    names: dict[str, str] = {}
    joins = ""
    if account_names:
        names = {"payer": "payer_acct.name", "usage": "usage_acct.name"}
        accounts = (
            "(SELECT account_id, name FROM UNNEST(@account_ids) AS account_id WITH OFFSET AS i "
            "JOIN UNNEST(@account_names) AS name WITH OFFSET AS j ON i = j)"
        )
        payer, usage = module.ACCOUNTS
        joins = (
            f"\nLEFT JOIN {accounts} AS payer_acct ON payer_acct.account_id = {payer}"
            f"\nLEFT JOIN {accounts} AS usage_acct ON usage_acct.account_id = {usage}"
        )
    body = module.select(
        available=available,
        names=names,
        joins=joins,
        order=order,
        detailed=variant is not None and variant.key == "gcp-detailed",
        map_columns=map_columns,
    )
    column_list = ", ".join(order)
    return sql_render(
        f"INSERT INTO `{{destination}}` ({column_list})\n{body}",
        {"source": source, "destination": destination},
    )


def source_total_expr(provider: str, *, source_columns=None) -> str:
    """A row expression over the raw export: the row's billed cost (``SUM`` it for the
    source's total). ``source_columns`` lets a CUR 2.0 export (snake_case names) be read."""
    available = frozenset(source_columns) if source_columns is not None else None
    return source_module(provider).total(available)


def source_amortized_total_expr(provider: str, *, source_columns=None) -> str:
    """A row expression over the raw export: the row's amortized cost, by the provider's
    own rule (each module's ``amortized_total`` says which)."""
    available = frozenset(source_columns) if source_columns is not None else None
    return source_module(provider).amortized_total(available)
