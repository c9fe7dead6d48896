"""The FOCUS 1.2 column model: every column with its type, the mandatory and not-null ones,
the allowed values of each closed set, each provider's ``x_`` columns, and how FOCUS tables are
partitioned. The SQL that fills a FOCUS table is built per source provider
(``focus/aws.py``, ``azure.py``, ``gcp.py``, ``native.py``; ``focus/normalize.py``)."""

from __future__ import annotations

from focus.catalog import (
    SERVICE_CATEGORIES,
    SUBCATEGORIES,
)
from warehouse.bigquery import Column

# "focus": a native FOCUS 1.0, 1.1 or 1.2 file (AWS Data Exports FOCUS, Azure's FOCUS cost
# export, any other), upgraded to 1.2.
PROVIDERS = ("aws", "azure", "gcp", "focus")

CHARGE_CATEGORIES = frozenset({"Usage", "Purchase", "Tax", "Credit", "Adjustment"})
CHARGE_CLASSES = frozenset({"Correction"})  # or NULL
CHARGE_FREQUENCIES = frozenset({"One-Time", "Recurring", "Usage-Based"})
PRICING_CATEGORIES = frozenset({"Standard", "Dynamic", "Committed", "Other"})
COMMITMENT_DISCOUNT_CATEGORIES = frozenset({"Spend", "Usage"})
COMMITMENT_DISCOUNT_STATUSES = frozenset({"Used", "Unused"})
CAPACITY_RESERVATION_STATUSES = frozenset({"Used", "Unused"})

# Columns whose every value must lie in a closed set; NULL allowed only where noted.
ALLOWED_VALUES: dict[str, frozenset[str]] = {
    "ChargeCategory": CHARGE_CATEGORIES,
    "ChargeClass": CHARGE_CLASSES,
    "ChargeFrequency": CHARGE_FREQUENCIES,
    "ServiceCategory": SERVICE_CATEGORIES,
    "ServiceSubcategory": frozenset(SUBCATEGORIES),
    "PricingCategory": PRICING_CATEGORIES,
    "CommitmentDiscountCategory": COMMITMENT_DISCOUNT_CATEGORIES,
    "CommitmentDiscountStatus": COMMITMENT_DISCOUNT_STATUSES,
    "CapacityReservationStatus": CAPACITY_RESERVATION_STATUSES,
}
NULLABLE_ALLOWED_VALUES = frozenset(
    {
        "ChargeClass",
        "PricingCategory",
        "CommitmentDiscountCategory",
        "CommitmentDiscountStatus",
        "CapacityReservationStatus",
    }
)

# The FOCUS 1.2 CostAndUsage columns every FOCUS table here holds, in the spec's order.
# Costs billed or amortized are NUMERIC (exact sums to the cent); unit prices, quantities
# and the costs FOCUS defines as their product (ListCost, ContractedCost) are FLOAT64, so
# that ``ListUnitPrice * PricingQuantity = ListCost`` holds exactly wherever it is checked.
FOCUS_COLUMNS: tuple[Column, ...] = (
    Column("AvailabilityZone", "STRING"),
    Column("BilledCost", "NUMERIC"),
    Column("BillingAccountId", "STRING"),
    Column("BillingAccountName", "STRING"),
    Column("BillingAccountType", "STRING"),
    Column("BillingCurrency", "STRING"),
    Column("BillingPeriodEnd", "TIMESTAMP"),
    Column("BillingPeriodStart", "TIMESTAMP"),
    Column("CapacityReservationId", "STRING"),
    Column("CapacityReservationStatus", "STRING"),
    Column("ChargeCategory", "STRING"),
    Column("ChargeClass", "STRING"),
    Column("ChargeDescription", "STRING"),
    Column("ChargeFrequency", "STRING"),
    Column("ChargePeriodEnd", "TIMESTAMP"),
    Column("ChargePeriodStart", "TIMESTAMP"),
    Column("CommitmentDiscountCategory", "STRING"),
    Column("CommitmentDiscountId", "STRING"),
    Column("CommitmentDiscountName", "STRING"),
    Column("CommitmentDiscountQuantity", "FLOAT64"),
    Column("CommitmentDiscountStatus", "STRING"),
    Column("CommitmentDiscountType", "STRING"),
    Column("CommitmentDiscountUnit", "STRING"),
    Column("ConsumedQuantity", "FLOAT64"),
    Column("ConsumedUnit", "STRING"),
    Column("ContractedCost", "FLOAT64"),
    Column("ContractedUnitPrice", "FLOAT64"),
    Column("EffectiveCost", "NUMERIC"),
    Column("InvoiceId", "STRING"),
    Column("InvoiceIssuerName", "STRING"),
    Column("ListCost", "FLOAT64"),
    Column("ListUnitPrice", "FLOAT64"),
    Column("PricingCategory", "STRING"),
    Column("PricingCurrency", "STRING"),
    Column("PricingCurrencyContractedUnitPrice", "FLOAT64"),
    Column("PricingCurrencyEffectiveCost", "NUMERIC"),
    Column("PricingCurrencyListUnitPrice", "FLOAT64"),
    Column("PricingQuantity", "FLOAT64"),
    Column("PricingUnit", "STRING"),
    Column("ProviderName", "STRING"),
    Column("PublisherName", "STRING"),
    Column("RegionId", "STRING"),
    Column("RegionName", "STRING"),
    Column("ResourceId", "STRING"),
    Column("ResourceName", "STRING"),
    Column("ResourceType", "STRING"),
    Column("ServiceCategory", "STRING"),
    Column("ServiceName", "STRING"),
    Column("ServiceSubcategory", "STRING"),
    Column("SkuId", "STRING"),
    Column("SkuMeter", "STRING"),
    Column("SkuPriceDetails", "JSON"),
    Column("SkuPriceId", "STRING"),
    Column("SubAccountId", "STRING"),
    Column("SubAccountName", "STRING"),
    Column("SubAccountType", "STRING"),
    Column("Tags", "JSON"),
)
FOCUS_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in FOCUS_COLUMNS)
MANDATORY_COLUMNS: tuple[str, ...] = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
)

# Columns FOCUS requires to be filled on every row, whatever the provider.
NOT_NULL_COLUMNS: tuple[str, ...] = (
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "BillingAccountId",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargeCategory",
    "ChargeFrequency",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ProviderName",
    "PublisherName",
    "InvoiceIssuerName",
    "ServiceCategory",
    "ServiceSubcategory",
    "ServiceName",
    "PricingCurrency",
    "PricingCurrencyEffectiveCost",
)

# Extra columns per provider (FOCUS allows custom columns prefixed ``x_``).
EXTRA_COLUMNS: dict[str, tuple[str, ...]] = {
    "aws": (
        "x_LineItemId",
        "x_LineItemType",
        "x_ProductCode",
        "x_UsageType",
        "x_Operation",
        "x_BillType",
        "x_InvoicingEntity",
        "x_LegalEntity",
    ),
    "azure": (
        "x_ChargeType",
        "x_PricingModel",
        "x_ResourceGroup",
        "x_MeterSubCategory",
        "x_MeterName",
        "x_UnitOfMeasure",
    ),
    "gcp": ("x_ServiceId", "x_CostType", "x_InvoiceMonth", "x_CreditName", "x_CreditType"),
    "focus": ("x_SourceFocusVersion",),
}


# FOCUS tables are partitioned by charge day and clustered by provider and service, so reads
# of some days (anomaly detection, budgets) scan only those days' partitions.
FOCUS_PARTITION_DAY = "ChargePeriodStart"
FOCUS_CLUSTER_BY = ("ProviderName", "ServiceName")


def focus_table_columns(provider: str) -> tuple[Column, ...]:
    """The schema of a provider's FOCUS table: the FOCUS columns, then its ``x_`` columns."""
    provider_check(provider)
    return FOCUS_COLUMNS + tuple(Column(name, "STRING") for name in EXTRA_COLUMNS[provider])


class FocusSourceError(ValueError):
    """The source table lacks columns the provider's normalization needs."""


def provider_check(provider: str) -> None:
    if provider not in PROVIDERS:
        raise ValueError(f"unknown FOCUS provider {provider!r} (expected {', '.join(PROVIDERS)})")
