"""FOCUS 1.2 MUST rules that SQL can check on a FOCUS table, counted in one query per run.

Each rule has the id the FinOps Foundation's validator gives it (``focus_validator``'s
model-1.2.json) and counts the rows (or service names, SKU prices) that break it. The
``dq.check`` step records one ``x_meta_dq_results`` row per rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from focus.model import (
    ALLOWED_VALUES,
    NOT_NULL_COLUMNS,
    NULLABLE_ALLOWED_VALUES,
)
from focus.sql import in_list
from warehouse.sql_identifiers import sql_render


@dataclass(frozen=True)
class Rule:
    rule_id: str
    text: str
    violations: str  # an aggregate over the table ``t``: how many rows break the rule


def _in(values) -> str:
    return ", ".join(f"'{v}'" for v in sorted(values))


def _count(condition: str) -> str:
    return f"COUNTIF({condition})"


def _grouped(key: str, column: str) -> str:
    """Keys without exactly one distinct value of ``column`` ("one and only one": none, as a
    SKU price whose rows name no SKU, breaks it as two do), a scalar subquery."""
    return (
        f"(SELECT COUNT(*) FROM (SELECT {key} FROM `{{table}}` WHERE {key} IS NOT NULL "
        f"GROUP BY {key} HAVING COUNT(DISTINCT {column}) <> 1))"
    )


_PRICED = "ChargeCategory IN ('Usage', 'Purchase') AND ChargeClass IS NULL"

RULES: tuple[Rule, ...] = (
    *(
        Rule(f"{column}-not-null", f"{column} MUST NOT be null.", _count(f"{column} IS NULL"))
        for column in NOT_NULL_COLUMNS
    ),
    *(
        Rule(
            f"{column}-allowed-values",
            f"{column} MUST be one of the allowed values.",
            _count(
                f"{column} IS NOT NULL AND {column} NOT IN ({_in(values)})"
                if column in NULLABLE_ALLOWED_VALUES
                else f"{column} IS NULL OR {column} NOT IN ({_in(values)})"
            ),
        )
        for column, values in sorted(ALLOWED_VALUES.items())
    ),
    Rule(
        "ServiceName-C-005-C",
        "ServiceName MUST have one and only one ServiceCategory.",
        _grouped("ServiceName", "ServiceCategory"),
    ),
    Rule(
        "ServiceSubcategory-C-004-M",
        "ServiceSubcategory MUST have one and only one parent ServiceCategory.",
        _grouped("ServiceSubcategory", "ServiceCategory"),
    ),
    Rule(
        "SkuPriceId-C-008-M",
        "SkuPriceId MUST have one and only one parent SkuId.",
        _grouped("SkuPriceId", "SkuId"),
    ),
    Rule(
        "PricingQuantity-C-004-C",
        'PricingQuantity MUST be null when ChargeCategory is "Tax".',
        _count("ChargeCategory = 'Tax' AND PricingQuantity IS NOT NULL"),
    ),
    Rule(
        "PricingUnit-C-005-C",
        "PricingUnit MUST be null when PricingQuantity is null, and not null otherwise.",
        _count("(PricingQuantity IS NULL) <> (PricingUnit IS NULL)"),
    ),
    Rule(
        "SkuId-C-004-C",
        'SkuId, SkuPriceId and unit prices MUST be null when ChargeCategory is "Tax".',
        _count(
            "ChargeCategory = 'Tax' AND (SkuId IS NOT NULL OR SkuPriceId IS NOT NULL "
            "OR ListUnitPrice IS NOT NULL OR ContractedUnitPrice IS NOT NULL "
            "OR PricingCategory IS NOT NULL)"
        ),
    ),
    Rule(
        "SkuId-C-005-C",
        'SkuId MUST NOT be null when ChargeCategory is "Usage" or "Purchase" and ChargeClass '
        'is not "Correction".',
        _count(f"{_PRICED} AND SkuId IS NULL"),
    ),
    Rule(
        "PricingQuantity-C-005-C",
        "PricingQuantity, PricingCategory and SkuPriceId MUST NOT be null on Usage and "
        "Purchase rows that are not corrections.",
        _count(
            f"{_PRICED} AND (PricingQuantity IS NULL OR PricingCategory IS NULL "
            "OR SkuPriceId IS NULL)"
        ),
    ),
    Rule(
        "ConsumedQuantity-C-004-C",
        'ConsumedQuantity MUST be null when ChargeCategory is not "Usage" or the commitment '
        "is unused.",
        _count(
            "ConsumedQuantity IS NOT NULL AND (ChargeCategory <> 'Usage' "
            "OR CommitmentDiscountStatus = 'Unused')"
        ),
    ),
    Rule(
        "ConsumedUnit-C-005-C",
        "ConsumedUnit MUST be null when ConsumedQuantity is null, and not null otherwise.",
        _count("(ConsumedQuantity IS NULL) <> (ConsumedUnit IS NULL)"),
    ),
    Rule(
        "ChargeFrequency-C-004-C",
        'ChargeFrequency MUST NOT be "Usage-Based" when ChargeCategory is "Purchase".',
        _count("ChargeCategory = 'Purchase' AND ChargeFrequency = 'Usage-Based'"),
    ),
    Rule(
        "EffectiveCost-C-005-C",
        'EffectiveCost MUST be 0 for a commitment purchase (ChargeCategory "Purchase").',
        _count(
            "ChargeCategory = 'Purchase' AND CommitmentDiscountId IS NOT NULL "
            "AND EffectiveCost <> 0"
        ),
    ),
    Rule(
        "CommitmentDiscountStatus-C-003-C",
        "CommitmentDiscount Status, Category, Type MUST be null when CommitmentDiscountId is "
        "null; Category and Type MUST NOT be null otherwise.",
        _count(
            "(CommitmentDiscountId IS NULL AND (CommitmentDiscountStatus IS NOT NULL "
            "OR CommitmentDiscountCategory IS NOT NULL OR CommitmentDiscountType IS NOT NULL)) "
            "OR (CommitmentDiscountId IS NOT NULL AND (CommitmentDiscountCategory IS NULL "
            "OR CommitmentDiscountType IS NULL))"
        ),
    ),
    Rule(
        "CommitmentDiscountStatus-C-004-C",
        'CommitmentDiscountStatus MUST NOT be null on "Usage" rows with a commitment.',
        _count(
            "CommitmentDiscountId IS NOT NULL AND ChargeCategory = 'Usage' "
            "AND CommitmentDiscountStatus IS NULL"
        ),
    ),
    Rule(
        "RegionName-C-004-C",
        "RegionName MUST be null when RegionId is null, and not null otherwise.",
        _count("(RegionId IS NULL) <> (RegionName IS NULL)"),
    ),
    Rule(
        "ResourceType-C-004-C",
        "ResourceType MUST be null when ResourceId is null, and not null otherwise.",
        _count("(ResourceId IS NULL) <> (ResourceType IS NULL)"),
    ),
    Rule(
        "SubAccountName-C-004-C",
        "SubAccountName MUST be null when SubAccountId is null, and not null otherwise.",
        _count("(SubAccountId IS NULL) <> (SubAccountName IS NULL)"),
    ),
    Rule(
        "ChargePeriod-ordering",
        "ChargePeriodStart MUST be before ChargePeriodEnd.",
        _count("ChargePeriodStart >= ChargePeriodEnd"),
    ),
    Rule(
        "BillingPeriod-ordering",
        "BillingPeriodStart MUST be before BillingPeriodEnd.",
        _count("BillingPeriodStart >= BillingPeriodEnd"),
    ),
)


def conformance_counts() -> dict[str, str]:
    """The violation count of each rule, as an aggregate over the FOCUS table (``{table}``
    where a rule reads it again), named ``r0``, ``r1``… as ``conformance_results`` reads them."""
    return {f"r{i}": rule.violations for i, rule in enumerate(RULES)}


def conformance_sql(table: str) -> str:
    """One query over the FOCUS table: a violation count per rule, columns ``r0``, ``r1``…"""
    counts = ",\n  ".join(f"{expr} AS {name}" for name, expr in conformance_counts().items())
    return sql_render(f"SELECT\n  {counts}\nFROM `{{table}}`", {"table": table})


def conformance_results(row: dict) -> list[tuple[Rule, int]]:
    """The rules paired with their violation counts, from ``conformance_sql``'s one row."""
    return [(rule, int(row[f"r{i}"] or 0)) for i, rule in enumerate(RULES)]


def allowed_values_counts() -> dict[str, str]:
    """Per closed-set column, an aggregate counting the rows whose value lies outside its set."""
    counts = {}
    for column, values in sorted(ALLOWED_VALUES.items()):
        listed = in_list(sorted(values))
        null_ok = column in NULLABLE_ALLOWED_VALUES
        condition = (
            f"{column} NOT IN ({listed})"
            if null_ok
            else (f"{column} IS NULL OR {column} NOT IN ({listed})")
        )
        counts[column] = f"COUNTIF({condition})"
    return counts


def allowed_values_sql(table: str) -> str:
    """A query counting, per closed-set column, the rows whose value lies outside its set."""
    counts = ", ".join(f"{expr} AS {column}" for column, expr in allowed_values_counts().items())
    return sql_render(f"SELECT {counts} FROM `{{table}}`", {"table": table})
