"""FOCUS from FOCUS: native 1.0, 1.1 and 1.2 files (AWS Data Exports FOCUS, Azure's FOCUS
cost export, any other), upgraded to 1.2."""

from __future__ import annotations

from collections.abc import Iterable

from focus.catalog import (
    AWS_SERVICES,
    AZURE_SERVICES,
    GCP_SERVICES,
    SERVICE_CATEGORIES,
    classify,
)
from focus.model import (
    CAPACITY_RESERVATION_STATUSES,
    CHARGE_CATEGORIES,
    CHARGE_FREQUENCIES,
    COMMITMENT_DISCOUNT_CATEGORIES,
    COMMITMENT_DISCOUNT_STATUSES,
    FOCUS_COLUMN_NAMES,
    FOCUS_COLUMNS,
    PRICING_CATEGORIES,
)
from focus.sql import lookup, nested_select, quote
from focus.variants import Variant

# -- native FOCUS 1.0 / 1.1 / 1.2 ------------------------------------------------------------

FOCUS_NATIVE_REQUIRED = (
    "BilledCost",
    "BillingAccountId",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargeCategory",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ServiceCategory",
    "ServiceName",
)
_PIPELINE = "focus/cost/native"
_FOCUS = ("BilledCost", "ChargePeriodStart", "BillingCurrency", "ServiceName")
VARIANTS = (
    Variant(
        "focus",
        "a FOCUS 1.0-1.2 file",
        _PIPELINE,
        _FOCUS,
        "Export FOCUS from your provider (AWS Data Exports 'FOCUS 1.0', Azure Cost "
        "Management 'Cost and usage (FOCUS)', OCI FOCUS reports) and run focus/cost/native.",
        FOCUS_NATIVE_REQUIRED,
        sample="pipelines/tests/data/focus_1_0_sample.csv",
    ),
    Variant(
        "aws-focus",
        "an AWS Data Exports FOCUS file",
        _PIPELINE,
        (*_FOCUS, "x_ServiceCode", "x_UsageType", "x_Operation"),
        "Create a FOCUS 1.0 export in AWS Billing and Cost Management > Data Exports.",
        FOCUS_NATIVE_REQUIRED,
        sample="pipelines/tests/data/variants/aws_focus_1_0.csv",
    ),
    Variant(
        "azure-focus",
        "an Azure Cost Management FOCUS export",
        _PIPELINE,
        (*_FOCUS, "x_BilledCostInUsd", "x_SkuMeterCategory"),
        "Export 'Cost and usage details (FOCUS)' from Cost Management > Exports.",
        FOCUS_NATIVE_REQUIRED,
        sample="pipelines/tests/data/variants/azure_focus_1_0.csv",
    ),
    Variant(
        "oci-focus",
        "an OCI FOCUS report",
        _PIPELINE,
        (*_FOCUS, "oci_ReferenceNumber", "oci_CompartmentId"),
        "Download the FOCUS report from your tenancy's reports bucket (FOCUS Reports).",
        FOCUS_NATIVE_REQUIRED,
        sample="pipelines/tests/data/variants/oci_focus_1_0.csv",
    ),
)

# Columns FOCUS 1.1 added (and 1.2 after them): their presence tells the file's version.
FOCUS_1_1_COLUMNS = frozenset(
    {"ServiceSubcategory", "SkuMeter", "SkuPriceDetails", "CommitmentDiscountQuantity"}
)
FOCUS_1_2_COLUMNS = frozenset({"InvoiceId", "PricingCurrency", "PricingCurrencyEffectiveCost"})
# FOCUS 1.1 renamed two PricingCategory values.
PRICING_CATEGORY_1_0 = {"On-Demand": "Standard", "Commitment-Based": "Committed"}
_CANONICAL = {
    "ChargeCategory": CHARGE_CATEGORIES,
    "ChargeFrequency": CHARGE_FREQUENCIES,
    "CommitmentDiscountStatus": COMMITMENT_DISCOUNT_STATUSES,
    "CommitmentDiscountCategory": COMMITMENT_DISCOUNT_CATEGORIES,
    "CapacityReservationStatus": CAPACITY_RESERVATION_STATUSES,
}


# AWS Data Exports' FOCUS 1.0 export has x_UsageType; its FOCUS 1.2 export dropped that column
# because "This is now the SkuMeter column" (AWS, "Migrating from FOCUS 1.0 to FOCUS 1.2").
AWS_USAGE_TYPE = "x_UsageType"
# Microsoft's FOCUS 1.0 export has x_SkuMeterName ("Name of the usage meter"; column 87 of its
# Version 1.0 schema); its 1.2 SkuMeter is the meter's name.
AZURE_METER_NAME = "x_SkuMeterName"


def focus_source_version(available: Iterable[str]) -> str:
    """The FOCUS version a native file's columns show: 1.2, 1.1 or 1.0."""
    available = set(available)
    if available & FOCUS_1_2_COLUMNS:
        return "1.2"
    if available & FOCUS_1_1_COLUMNS:
        return "1.1"
    return "1.0"


def _native_inner() -> dict[str, str]:
    """Each FOCUS column of the file, typed; the literal text ``NULL`` (as some exporters
    write) and empty strings are NULL."""
    typed = {}
    for column in FOCUS_COLUMNS:
        raw = f"NULLIF(NULLIF(TRIM([[{column.name}]]), 'NULL'), '')"
        typed[column.name] = {
            "NUMERIC": f"PARSE_NUMERIC({raw})",
            "FLOAT64": f"CAST({raw} AS FLOAT64)",
            "TIMESTAMP": f"TIMESTAMP({raw})",
            "JSON": f"SAFE.PARSE_JSON({raw})",
        }.get(column.type, raw)
    for meter in (AWS_USAGE_TYPE, AZURE_METER_NAME):
        typed[meter] = f"NULLIF(NULLIF(TRIM([[{meter}]]), 'NULL'), '')"
    return typed


def _canonical(column: str, values: Iterable[str]) -> str:
    """Allowed values matched case-insensitively (``Usage-based`` → ``Usage-Based``)."""
    branches = " ".join(f"WHEN {quote(v.lower())} THEN {quote(v)}" for v in sorted(values))
    return f"CASE LOWER(s.{column}) {branches} ELSE s.{column} END"


def _native_subcategory() -> str:
    """A 1.0 file has no ServiceSubcategory: the one our mappings give the service when its
    parent is the file's ServiceCategory, else ``Other (<ServiceCategory>)``."""
    known = {name: sub for name, sub in AZURE_SERVICES.items()}
    known.update(GCP_SERVICES)
    known.update({name: sub for name, sub in AWS_SERVICES.values()})
    branches = " ".join(
        f"WHEN s.ServiceName = {quote(name)} AND s.ServiceCategory = {quote(classify(sub)[0])} "
        f"THEN {quote(sub)}"
        for name, sub in sorted(known.items())
    )
    fallback = " ".join(
        f"WHEN {quote(c)} THEN {quote('Other (Other)' if c == 'Other' else f'Other ({c})')}"
        for c in sorted(SERVICE_CATEGORIES)
    )
    derived = f"CASE {branches} ELSE CASE s.ServiceCategory {fallback} END END"
    return f"COALESCE(s.ServiceSubcategory, {derived})"


def _native_outer(available: frozenset[str]) -> dict[str, str]:
    columns = {c.name: f"s.{c.name}" for c in FOCUS_COLUMNS}
    for column, values in _CANONICAL.items():
        columns[column] = _canonical(column, values)
    columns["PricingCategory"] = lookup(
        "s.PricingCategory", PRICING_CATEGORY_1_0, _canonical("PricingCategory", PRICING_CATEGORIES)
    )
    columns["ServiceSubcategory"] = _native_subcategory()
    cd_rows = "s.CommitmentDiscountId IS NOT NULL AND s.ChargeCategory IN ('Usage', 'Purchase')"
    if "CommitmentDiscountQuantity" not in available:
        # 1.0 had no quantity: spend-based commitments consume their amortized cost,
        # usage-based ones the priced quantity.
        columns["CommitmentDiscountQuantity"] = (
            f"IF({cd_rows}, IF(s.CommitmentDiscountCategory = 'Spend', "
            "CAST(s.EffectiveCost AS FLOAT64), s.PricingQuantity), NULL)"
        )
        columns["CommitmentDiscountUnit"] = (
            f"IF({cd_rows}, IF(s.CommitmentDiscountCategory = 'Spend', s.BillingCurrency, "
            "s.PricingUnit), NULL)"
        )
    # A 1.0 file has no SkuMeter: AWS's usage type (what AWS's own 1.2 export puts there) or
    # Microsoft's meter name where the export has one, only on rows with a SkuId (SkuMeter is
    # null where SkuId is). OCI's 1.0 report has no column documented as the meter: left null.
    columns["SkuMeter"] = (
        f"COALESCE(s.SkuMeter, IF(s.SkuId IS NULL, NULL, "
        f"COALESCE(s.{AWS_USAGE_TYPE}, s.{AZURE_METER_NAME})))"
    )
    # Before 1.2 prices were in the billing currency.
    columns["PricingCurrency"] = "COALESCE(s.PricingCurrency, s.BillingCurrency)"
    columns["PricingCurrencyEffectiveCost"] = (
        "IF(s.PricingCurrency IS NULL, s.EffectiveCost, s.PricingCurrencyEffectiveCost)"
    )
    columns["PricingCurrencyListUnitPrice"] = (
        "IF(s.PricingCurrency IS NULL, s.ListUnitPrice, s.PricingCurrencyListUnitPrice)"
    )
    columns["PricingCurrencyContractedUnitPrice"] = (
        "IF(s.PricingCurrency IS NULL, s.ContractedUnitPrice, s.PricingCurrencyContractedUnitPrice)"
    )
    columns["x_SourceFocusVersion"] = quote(focus_source_version(available))
    return columns


ACCOUNTS = ("s.BillingAccountId", "s.SubAccountId")


def select(*, available, names, joins, order, **options) -> str:
    """The file's rows as 1.2 (a native file names its accounts itself: no joins)."""
    outer = _native_outer(available or frozenset(FOCUS_COLUMN_NAMES))
    return nested_select(outer, _native_inner(), available, order)


def total(available) -> str:
    return "PARSE_NUMERIC(NULLIF(NULLIF(TRIM(BilledCost), 'NULL'), ''))"


def amortized_total(available) -> str:
    return "IFNULL(PARSE_NUMERIC(NULLIF(NULLIF(TRIM(EffectiveCost), 'NULL'), '')), 0)"
