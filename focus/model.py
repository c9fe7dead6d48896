"""FOCUS 1.2 normalization of AWS CUR, Azure exports and the GCP billing export, in SQL.

The FOCUS table is created with its schema first (names and types exactly as the spec
writes them), then filled by one ``INSERT … SELECT`` that reads the raw table once: an
inner select parses each raw column once, the outer one builds the FOCUS columns from it.
The per-provider mapping is documented in ``docs/focus.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from focus.catalog import (
    AWS_SERVICES,
    AZURE_SERVICES,
    GCP_SERVICES,
    SERVICE_CATEGORIES,
    SUBCATEGORIES,
    classify,
    service_case,
)
from focus.units import (
    AWS_UNITS,
    AZURE_UNITS_OF_MEASURE,
    GCP_UNITS,
    azure_pricing_unit,
    azure_unit,
    unit_case,
)
from warehouse.bigquery import Column
from warehouse.sql_identifiers import NAME_PATTERN, sql_render

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
    _provider_check(provider)
    return FOCUS_COLUMNS + tuple(Column(name, "STRING") for name in EXTRA_COLUMNS[provider])


class FocusSourceError(ValueError):
    """The source table lacks columns the provider's normalization needs."""


def _provider_check(provider: str) -> None:
    if provider not in PROVIDERS:
        raise ValueError(f"unknown FOCUS provider {provider!r} (expected {', '.join(PROVIDERS)})")


def _num(expr: str) -> str:
    # PARSE_NUMERIC over a STRING: the emulator casts to NUMERIC with three decimals only,
    # and a CSV loaded by autodetect may hold FLOAT64; STRING first accepts both.
    return f"PARSE_NUMERIC(CAST({expr} AS STRING))"


def _float(expr: str) -> str:
    return f"SAFE_CAST(CAST({expr} AS STRING) AS FLOAT64)"


def _string(expr: str) -> str:
    return f"CAST({expr} AS STRING)"


def _quote(value: str) -> str:
    if "'" in value or "\\" in value or "{" in value:
        raise ValueError(f"{value!r} cannot be a SQL literal here")
    return f"'{value}'"


def _in(values: Iterable[str]) -> str:
    return ", ".join(_quote(v) for v in values)


def _case(expr: str, mapping: Mapping[str, Iterable[str]], default: str) -> str:
    """A CASE over constant string lists; the lists are ours, never user input."""
    branches = " ".join(
        f"WHEN {expr} IN ({_in(values)}) THEN {_quote(out)}" for out, values in mapping.items()
    )
    return f"CASE {branches} ELSE {default} END"


def _lookup(expr: str, mapping: Mapping[str, str], default: str) -> str:
    """A CASE mapping each constant key to its constant value."""
    branches = " ".join(f"WHEN {_quote(k)} THEN {_quote(v)}" for k, v in mapping.items())
    return f"CASE {expr} {branches} ELSE {default} END"


def _json_object(pairs: Mapping[str, str]) -> str:
    """A JSON object of constant keys and STRING expressions; NULL members are left out.

    Built as text: the emulator cannot build JSON from arrays (JSON_OBJECT, TO_JSON).
    """
    members = ", ".join(
        f"IF({expr} IS NULL, NULL, CONCAT('\"{key}\":', TO_JSON_STRING({expr})))"
        for key, expr in pairs.items()
    )
    return f"PARSE_JSON(CONCAT('{{', ARRAY_TO_STRING([{members}], ','), '}}'))"


# -- AWS CUR 1.0 and CUR 2.0 -------------------------------------------------------------

AWS_REQUIRED = (
    "lineItem_LineItemType",
    "lineItem_UnblendedCost",
    "lineItem_CurrencyCode",
    "lineItem_UsageStartDate",
    "lineItem_UsageEndDate",
    "lineItem_ProductCode",
    "bill_PayerAccountId",
    "bill_BillingPeriodStartDate",
    "bill_BillingPeriodEndDate",
)

# AWS region codes and the names AWS gives them (product/location), for rows (data transfer)
# whose location is empty: RegionName must be filled wherever RegionId is.
AWS_REGIONS: dict[str, str] = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "af-south-1": "Africa (Cape Town)",
    "ap-east-1": "Asia Pacific (Hong Kong)",
    "ap-south-1": "Asia Pacific (Mumbai)",
    "ap-south-2": "Asia Pacific (Hyderabad)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
    "ap-southeast-3": "Asia Pacific (Jakarta)",
    "ap-southeast-4": "Asia Pacific (Melbourne)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-northeast-3": "Asia Pacific (Osaka)",
    "ca-central-1": "Canada (Central)",
    "ca-west-1": "Canada West (Calgary)",
    "eu-central-1": "EU (Frankfurt)",
    "eu-central-2": "EU (Zurich)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-west-3": "EU (Paris)",
    "eu-south-1": "EU (Milan)",
    "eu-south-2": "EU (Spain)",
    "eu-north-1": "EU (Stockholm)",
    "il-central-1": "Israel (Tel Aviv)",
    "me-south-1": "Middle East (Bahrain)",
    "me-central-1": "Middle East (UAE)",
    "sa-east-1": "South America (Sao Paulo)",
    "us-gov-east-1": "AWS GovCloud (US-East)",
    "us-gov-west-1": "AWS GovCloud (US-West)",
}

_AWS_USAGE = ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage")
_AWS_RI = ("DiscountedUsage", "RIFee")
_AWS_SP = ("SavingsPlanCoveredUsage", "SavingsPlanRecurringFee", "SavingsPlanUpfrontFee")
_AWS_CREDITS = (
    "Credit",
    "Refund",
    "BundledDiscount",
    "Discount",
    "EdpDiscount",
    "PrivateRateDiscount",
    "DistributorDiscount",
)
_AWS_PURCHASES = ("Fee", "RIFee", "SavingsPlanRecurringFee", "SavingsPlanUpfrontFee")

# The inner select: each raw column read once, typed. ``[[column]]`` marks a raw column
# (a typed NULL when the export lacks it); CUR 2.0's snake_case names are found too.
AWS_INNER = {
    "line_type": "[[lineItem_LineItemType]]",
    "cost": _num("[[lineItem_UnblendedCost]]"),
    "usage_amount": _float("[[lineItem_UsageAmount]]"),
    "rate": _float("[[lineItem_UnblendedRate]]"),
    "list_rate": _float("[[pricing_publicOnDemandRate]]"),
    "currency": "[[lineItem_CurrencyCode]]",
    "pricing_currency": "[[pricing_currency]]",
    "unit": unit_case("[[pricing_unit]]", AWS_UNITS),
    "payer_id": _string("[[bill_PayerAccountId]]"),
    "payer_name": "[[bill_PayerAccountName]]",
    "usage_account_id": _string("[[lineItem_UsageAccountId]]"),
    "usage_account_name": "[[lineItem_UsageAccountName]]",
    "billing_period_start": f"TIMESTAMP({_string('[[bill_BillingPeriodStartDate]]')})",
    "billing_period_end": f"TIMESTAMP({_string('[[bill_BillingPeriodEndDate]]')})",
    "usage_start": f"TIMESTAMP({_string('[[lineItem_UsageStartDate]]')})",
    "usage_end": f"TIMESTAMP({_string('[[lineItem_UsageEndDate]]')})",
    "description": "[[lineItem_LineItemDescription]]",
    "service_code": "COALESCE([[product_servicecode]], [[lineItem_ProductCode]])",
    "service_name": "COALESCE([[product_servicename]], [[product_ProductName]])",
    "product_code": "[[lineItem_ProductCode]]",
    "usage_type": "[[lineItem_UsageType]]",
    "operation": "[[lineItem_Operation]]",
    "region_id": "COALESCE([[product_regionCode]], NULLIF([[product_region]], 'global'))",
    "location": "[[product_location]]",
    "zone": "[[lineItem_AvailabilityZone]]",
    "resource_id": "[[lineItem_ResourceId]]",
    "product_family": "[[product_productFamily]]",
    "sku": "[[product_sku]]",
    "rate_code": "[[pricing_RateCode]]",
    "term": "[[pricing_term]]",
    "invoice_id": "[[bill_InvoiceId]]",
    "invoicing_entity": "[[bill_InvoicingEntity]]",
    "billing_entity": "[[bill_BillingEntity]]",
    "legal_entity": "[[lineItem_LegalEntity]]",
    "bill_type": "[[bill_BillType]]",
    "line_item_id": "[[identity_LineItemId]]",
    "ri_arn": "[[reservation_ReservationARN]]",
    "ri_effective_cost": _num("[[reservation_EffectiveCost]]"),
    "ri_unused_cost": f"IFNULL({_num('[[reservation_UnusedAmortizedUpfrontFeeForBillingPeriod]]')}"
    f", 0) + IFNULL({_num('[[reservation_UnusedRecurringFee]]')}, 0)",
    "ri_unused_quantity": _float("[[reservation_UnusedQuantity]]"),
    "ri_total_units": _float("[[reservation_TotalReservedUnits]]"),
    "sp_arn": "[[savingsPlan_SavingsPlanARN]]",
    "sp_effective_cost": _num("[[savingsPlan_SavingsPlanEffectiveCost]]"),
    "sp_commitment": _num("[[savingsPlan_TotalCommitmentToDate]]"),
    "sp_used": _num("[[savingsPlan_UsedCommitment]]"),
    "cr_arn": "[[capacityReservation_CapacityReservationArn]]",
    "cr_status": "[[capacityReservation_CapacityReservationStatus]]",
    "price_details": _json_object(
        {
            "x_ProductFamily": "[[product_productFamily]]",
            "x_Group": "[[product_group]]",
            "x_StorageClass": "[[product_storageClass]]",
            "x_VolumeType": "[[product_volumeType]]",
            "x_TransferType": "[[product_transferType]]",
            "x_FeeCode": "[[product_feeCode]]",
        }
    ),
}

# The outer select, over the inner's aliases (``s.``) and ``part``: 0 for the row itself,
# 1 for the unused-commitment row a RIFee or SavingsPlanRecurringFee row also yields.
_T = "s.line_type"
_UNUSED = "part = 1"
_IS_RI = f"({_T} IN ({_in(_AWS_RI)}) OR ({_T} = 'Fee' AND s.ri_arn IS NOT NULL))"
_IS_SP = f"{_T} IN ({_in(_AWS_SP)})"
_CD_ID = f"CASE WHEN {_IS_RI} THEN s.ri_arn WHEN {_IS_SP} THEN s.sp_arn END"
_CATEGORY = (
    f"CASE WHEN {_UNUSED} THEN 'Usage' "
    + " ".join(
        f"WHEN {_T} IN ({_in(values)}) THEN {_quote(out)}"
        for out, values in {
            "Usage": _AWS_USAGE,
            "Tax": ("Tax",),
            "Credit": _AWS_CREDITS,
            "Purchase": _AWS_PURCHASES,
        }.items()
    )
    + " ELSE 'Adjustment' END"
)
_PRICED = f"({_T} IN ({_in(_AWS_USAGE + _AWS_PURCHASES)}) OR {_UNUSED})"
_AWS_UNUSED_QTY = (
    f"IF({_T} = 'RIFee', s.ri_unused_quantity, CAST(s.unused_cost AS FLOAT64))"  # SP: spend
)
AWS_PRICING_QUANTITY = (
    f"CASE WHEN {_UNUSED} THEN {_AWS_UNUSED_QTY} WHEN {_PRICED} THEN IFNULL(s.usage_amount, 1) END"
)
AWS_LIST_UNIT_PRICE = f"IF({_PRICED}, COALESCE(s.list_rate, s.rate, 0), NULL)"
AWS_CONTRACTED_UNIT_PRICE = (
    f"CASE WHEN {_UNUSED} THEN SAFE_DIVIDE(CAST(s.unused_cost AS FLOAT64), {_AWS_UNUSED_QTY}) "
    f"WHEN {_T} IN ('DiscountedUsage', 'SavingsPlanCoveredUsage') "
    "THEN COALESCE(s.list_rate, s.rate, 0) "
    f"WHEN {_PRICED} THEN COALESCE(s.rate, s.list_rate, 0) END"
)
_AWS_FEE_QTY = "IFNULL(s.usage_amount, 1)"
_CD_QUANTITY = (
    f"CASE WHEN {_CD_ID} IS NULL OR {_T} NOT IN ({_in(_AWS_USAGE + _AWS_PURCHASES)}) THEN NULL "
    f"WHEN {_UNUSED} THEN {_AWS_UNUSED_QTY} "
    f"WHEN {_IS_RI} AND {_T} = 'Fee' THEN COALESCE(s.ri_total_units, {_AWS_FEE_QTY}) "
    f"WHEN {_IS_RI} THEN {_AWS_FEE_QTY} "
    f"WHEN {_T} = 'SavingsPlanCoveredUsage' THEN CAST(s.sp_effective_cost AS FLOAT64) "
    f"WHEN {_T} = 'SavingsPlanRecurringFee' THEN CAST(IFNULL(s.sp_commitment, s.cost) AS FLOAT64) "
    "ELSE CAST(s.cost AS FLOAT64) END"
)

AWS_COLUMNS = {
    "AvailabilityZone": "s.zone",
    "BilledCost": f"IF({_UNUSED} OR {_T} = 'SavingsPlanCoveredUsage', PARSE_NUMERIC('0'), s.cost)",
    "BillingAccountId": "s.payer_id",
    "BillingAccountName": "COALESCE(s.payer_name, {payer_name}, s.payer_id)",
    "BillingAccountType": "IF(s.payer_id IS NULL, NULL, 'Payer Account')",
    "BillingCurrency": "s.currency",
    "BillingPeriodEnd": "s.billing_period_end",
    "BillingPeriodStart": "s.billing_period_start",
    "CapacityReservationId": "s.cr_arn",
    "CapacityReservationStatus": f"IF(s.cr_arn IS NULL OR {_CATEGORY} <> 'Usage', NULL, "
    "CASE LOWER(s.cr_status) WHEN 'unused' THEN 'Unused' ELSE 'Used' END)",
    "ChargeCategory": _CATEGORY,
    "ChargeClass": f"IF({_T} = 'Refund', 'Correction', CAST(NULL AS STRING))",
    "ChargeDescription": f"IF({_UNUSED}, CONCAT('Unused commitment: ', "
    "IFNULL(s.description, '')), s.description)",
    "ChargeFrequency": f"CASE WHEN {_UNUSED} THEN 'Usage-Based' "
    f"WHEN {_T} IN ('RIFee', 'SavingsPlanRecurringFee') THEN 'Recurring' "
    f"WHEN {_T} IN ('Fee', 'SavingsPlanUpfrontFee', 'Tax') OR {_T} IN ({_in(_AWS_CREDITS)}) "
    "THEN 'One-Time' ELSE 'Usage-Based' END",
    "ChargePeriodEnd": "s.usage_end",
    "ChargePeriodStart": "s.usage_start",
    "CommitmentDiscountCategory": f"CASE WHEN {_CD_ID} IS NULL THEN NULL "
    f"WHEN {_IS_RI} THEN 'Usage' ELSE 'Spend' END",
    "CommitmentDiscountId": _CD_ID,
    "CommitmentDiscountName": "CAST(NULL AS STRING)",  # AWS commitments have no names
    "CommitmentDiscountQuantity": _CD_QUANTITY,
    "CommitmentDiscountStatus": f"CASE WHEN {_CD_ID} IS NULL OR {_CATEGORY} <> 'Usage' THEN NULL "
    f"WHEN {_UNUSED} THEN 'Unused' ELSE 'Used' END",
    "CommitmentDiscountType": f"CASE WHEN {_CD_ID} IS NULL THEN NULL "
    f"WHEN {_IS_RI} THEN 'Reserved Instance' ELSE 'Savings Plan' END",
    "CommitmentDiscountUnit": f"IF(({_CD_QUANTITY}) IS NULL, NULL, "
    f"IF({_IS_RI}, 'Hours', s.currency))",
    "ConsumedQuantity": f"IF({_T} IN ({_in(_AWS_USAGE)}) AND NOT {_UNUSED}, s.usage_amount, NULL)",
    "ConsumedUnit": f"IF({_T} IN ({_in(_AWS_USAGE)}) AND NOT {_UNUSED} "
    "AND s.usage_amount IS NOT NULL, IFNULL(s.unit, 'Units'), NULL)",
    "ContractedCost": f"IFNULL(({AWS_CONTRACTED_UNIT_PRICE}) * ({AWS_PRICING_QUANTITY}), "
    "CAST(s.cost AS FLOAT64))",
    "ContractedUnitPrice": AWS_CONTRACTED_UNIT_PRICE,
    "EffectiveCost": f"CASE WHEN {_UNUSED} THEN s.unused_cost "
    f"WHEN {_T} = 'SavingsPlanCoveredUsage' THEN IFNULL(s.sp_effective_cost, 0) "
    f"WHEN {_T} = 'DiscountedUsage' THEN IFNULL(s.ri_effective_cost, 0) "
    f"WHEN {_T} IN ('RIFee', 'SavingsPlanRecurringFee', 'SavingsPlanUpfrontFee') "
    f"OR ({_T} = 'Fee' AND s.ri_arn IS NOT NULL) THEN PARSE_NUMERIC('0') ELSE s.cost END",
    "InvoiceId": "s.invoice_id",
    # Bought from AWS (any of its legal entities) the provider is the invoice issuer; the
    # entity itself stays in x_InvoicingEntity. Another issuer (a reseller) keeps its name.
    "InvoiceIssuerName": "IF(s.invoicing_entity IS NULL "
    "OR STARTS_WITH(s.invoicing_entity, 'Amazon Web Services') "
    "OR s.invoicing_entity IN ('AWS', 'Amazon Internet Services Pvt. Ltd.'), 'AWS', "
    "s.invoicing_entity)",
    "ListCost": f"IFNULL(({AWS_LIST_UNIT_PRICE}) * ({AWS_PRICING_QUANTITY}), "
    "CAST(s.cost AS FLOAT64))",
    "ListUnitPrice": AWS_LIST_UNIT_PRICE,
    "PricingCategory": f"CASE WHEN NOT {_PRICED} THEN NULL "
    f"WHEN {_UNUSED} OR {_CD_ID} IS NOT NULL THEN 'Committed' "
    "WHEN s.usage_type LIKE '%SpotUsage%' THEN 'Dynamic' ELSE 'Standard' END",
    "PricingCurrency": "COALESCE(s.pricing_currency, s.currency)",
    "PricingCurrencyContractedUnitPrice": AWS_CONTRACTED_UNIT_PRICE,
    "PricingCurrencyEffectiveCost": "{EffectiveCost}",
    "PricingCurrencyListUnitPrice": AWS_LIST_UNIT_PRICE,
    "PricingQuantity": AWS_PRICING_QUANTITY,
    "PricingUnit": f"IF(({AWS_PRICING_QUANTITY}) IS NULL, NULL, "
    f"IF({_UNUSED} AND {_T} <> 'RIFee', s.currency, IFNULL(s.unit, 'Units')))",
    "ProviderName": "'AWS'",
    # Marketplace charges are published by the seller, AWS's own by AWS.
    "PublisherName": "IF(s.billing_entity = 'AWS Marketplace', "
    "IFNULL(s.legal_entity, 'AWS Marketplace'), 'AWS')",
    "RegionId": "s.region_id",
    "RegionName": "IF(s.region_id IS NULL, NULL, "
    f"{_lookup('s.region_id', AWS_REGIONS, 'COALESCE(s.location, s.region_id)')})",
    "ResourceId": "s.resource_id",
    "ResourceName": "CAST(NULL AS STRING)",
    "ResourceType": "IF(s.resource_id IS NULL, NULL, IFNULL(s.product_family, s.service_code))",
    "ServiceCategory": service_case(
        "s.service_code", {k: v[1] for k, v in AWS_SERVICES.items()}, part=0
    ),
    "ServiceName": _lookup(
        "s.service_code",
        {k: v[0] for k, v in AWS_SERVICES.items()},
        "COALESCE(s.service_name, s.service_code)",
    ),
    "ServiceSubcategory": service_case(
        "s.service_code", {k: v[1] for k, v in AWS_SERVICES.items()}, part=1
    ),
    "SkuId": f"IF({_T} = 'Tax', NULL, s.sku)",
    "SkuMeter": f"IF({_T} = 'Tax' OR s.sku IS NULL, NULL, COALESCE(s.usage_type, s.operation))",
    "SkuPriceDetails": f"IF({_T} = 'Tax' OR s.rate_code IS NULL, NULL, s.price_details)",
    "SkuPriceId": f"IF({_T} = 'Tax', NULL, s.rate_code)",
    "SubAccountId": "s.usage_account_id",
    "SubAccountName": "IF(s.usage_account_id IS NULL, NULL, "
    "COALESCE(s.usage_account_name, {usage_account_name}, s.usage_account_id))",
    "SubAccountType": "IF(s.usage_account_id IS NULL, NULL, 'Usage Account')",
    "Tags": "s.tags",
    "x_LineItemId": "s.line_item_id",
    "x_LineItemType": _T,
    "x_ProductCode": "s.product_code",
    "x_UsageType": "s.usage_type",
    "x_Operation": "s.operation",
    "x_BillType": "s.bill_type",
    "x_InvoicingEntity": "s.invoicing_entity",
    "x_LegalEntity": "s.legal_entity",
}


def _aws_tags(available: Iterable[str]) -> str:
    """A JSON object of the CUR's tag columns present in the source.

    CUR 1.0 writes ``resourceTags/user:Name`` (loaded as ``resourceTags_user_Name``): user
    tags keep their own key, AWS-defined ones (``aws:...``) keep AWS's prefix. CUR 2.0 has
    one ``resource_tags`` map column, JSON text in CSV.
    """
    available = set(available)
    if "resource_tags" in available:
        return "COALESCE(SAFE.PARSE_JSON(resource_tags), PARSE_JSON('{}'))"
    tags = sorted(c for c in available if c.startswith("resourceTags_") and NAME_PATTERN.match(c))
    if not tags:
        return "PARSE_JSON('{}')"
    return _json_object({_aws_tag_key(c): f"NULLIF({c}, '')" for c in tags})


def _aws_tag_key(column: str) -> str:
    key = column.removeprefix("resourceTags_")
    if key.startswith("user_"):
        return key.removeprefix("user_")
    if key.startswith("aws_"):
        return "aws:" + key.removeprefix("aws_")
    return key


def cur2_name(cur1: str) -> str:
    """CUR 2.0's snake_case name of a CUR 1.0 column: ``lineItem_UnblendedCost`` →
    ``line_item_unblended_cost``."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", cur1).lower()


# -- Azure cost details (EA and MCA) --------------------------------------------------------

AZURE_REQUIRED = (
    "Date",
    "CostInBillingCurrency",
    "BillingCurrencyCode",
    "BillingAccountId",
    "BillingPeriodStartDate",
    "BillingPeriodEndDate",
    "MeterCategory",
)

# Azure region names (ResourceLocation, lower-cased without spaces) → display names.
AZURE_REGIONS: dict[str, str] = {
    "eastus": "East US",
    "eastus2": "East US 2",
    "centralus": "Central US",
    "northcentralus": "North Central US",
    "southcentralus": "South Central US",
    "westcentralus": "West Central US",
    "westus": "West US",
    "westus2": "West US 2",
    "westus3": "West US 3",
    "canadacentral": "Canada Central",
    "canadaeast": "Canada East",
    "brazilsouth": "Brazil South",
    "northeurope": "North Europe",
    "westeurope": "West Europe",
    "uksouth": "UK South",
    "ukwest": "UK West",
    "francecentral": "France Central",
    "germanywestcentral": "Germany West Central",
    "switzerlandnorth": "Switzerland North",
    "norwayeast": "Norway East",
    "swedencentral": "Sweden Central",
    "eastasia": "East Asia",
    "southeastasia": "Southeast Asia",
    "japaneast": "Japan East",
    "japanwest": "Japan West",
    "koreacentral": "Korea Central",
    "australiaeast": "Australia East",
    "australiasoutheast": "Australia Southeast",
    "centralindia": "Central India",
    "southindia": "South India",
    "uaenorth": "UAE North",
    "southafricanorth": "South Africa North",
    "global": "Global",
}


def _azure_date(column: str) -> str:
    # EA exports write M/D/YYYY; newer cost-details exports ISO dates.
    value = _string(f"[[{column}]]")
    return f"COALESCE(SAFE.PARSE_DATE('%m/%d/%Y', {value}), SAFE.PARSE_DATE('%Y-%m-%d', {value}))"


_AZ_BLOCKS = {uom: azure_unit(uom)[0] for uom in AZURE_UNITS_OF_MEASURE}
_AZ_BASE_UNITS = {uom: azure_unit(uom)[1] for uom in AZURE_UNITS_OF_MEASURE}
_AZ_PRICING_UNITS = {uom: azure_pricing_unit(uom) for uom in AZURE_UNITS_OF_MEASURE}

AZURE_INNER = {
    "charge_type": "[[ChargeType]]",
    "pricing_model": "[[PricingModel]]",
    "cost": _num("[[CostInBillingCurrency]]"),
    "quantity": _float("[[Quantity]]"),
    "payg_price": _float("[[PayGPrice]]"),
    "unit_price": _float("[[UnitPrice]]"),
    "effective_price": _num("[[EffectivePrice]]"),
    "quantity_numeric": _num("[[Quantity]]"),
    "exchange_rate": f"IFNULL({_float('[[ExchangeRatePricingToBilling]]')}, 1)",
    "currency": "[[BillingCurrencyCode]]",
    "pricing_currency": "COALESCE([[PricingCurrencyCode]], [[BillingCurrencyCode]])",
    "uom": "[[UnitOfMeasure]]",
    "block": _lookup("[[UnitOfMeasure]]", {k: str(v) for k, v in _AZ_BLOCKS.items()}, "'1'"),
    "pricing_unit": _lookup("[[UnitOfMeasure]]", _AZ_PRICING_UNITS, "[[UnitOfMeasure]]"),
    "base_unit": _lookup("[[UnitOfMeasure]]", _AZ_BASE_UNITS, "[[UnitOfMeasure]]"),
    "account_id": _string("[[BillingAccountId]]"),
    "account_name": "[[BillingAccountName]]",
    "subscription_id": "[[SubscriptionId]]",
    "subscription_name": "[[SubscriptionName]]",
    "period_start": f"TIMESTAMP({_azure_date('BillingPeriodStartDate')})",
    # FOCUS periods end exclusive; the export's end date is the period's last day.
    "period_end": f"TIMESTAMP(DATE_ADD({_azure_date('BillingPeriodEndDate')}, INTERVAL 1 DAY))",
    "day": _azure_date("Date"),
    "description": "COALESCE([[ProductName]], [[MeterName]])",
    "frequency": "[[Frequency]]",
    "meter_category": "[[MeterCategory]]",
    "meter_subcategory": "[[MeterSubCategory]]",
    "meter_name": "[[MeterName]]",
    "meter_id": "[[MeterId]]",
    "part_number": "COALESCE([[PartNumber]], [[ProductId]])",
    "location": "LOWER(REPLACE([[ResourceLocation]], ' ', ''))",
    "zone": "[[AvailabilityZone]]",
    "resource_id": "[[ResourceId]]",
    "resource_name": "[[ResourceName]]",
    "consumed_service": "[[ConsumedService]]",
    "publisher_type": "[[PublisherType]]",
    "publisher_name": "[[PublisherName]]",
    "invoice_id": "[[InvoiceId]]",
    "commitment_id": "COALESCE([[benefitId]], [[ReservationId]])",
    "commitment_name": "COALESCE([[benefitName]], [[ReservationName]])",
    "resource_group": "[[ResourceGroup]]",
    # The EA export writes tags as JSON members without the enclosing braces.
    "tags": "COALESCE(SAFE.PARSE_JSON(IF(STARTS_WITH(TRIM([[Tags]]), '{'), [[Tags]], "
    "CONCAT('{', [[Tags]], '}'))), PARSE_JSON('{}'))",
    "price_details": _json_object(
        {"x_MeterSubCategory": "[[MeterSubCategory]]", "x_ServiceFamily": "[[ServiceFamily]]"}
    ),
}

_C = "s.charge_type"
_AZ_CATEGORY = _case(
    _C,
    {
        "Usage": ["Usage", "UnusedReservation", "UnusedSavingsPlan"],
        "Purchase": ["Purchase"],
        "Tax": ["Tax"],
        "Credit": ["Credit", "Refund"],
    },
    "'Adjustment'",
)
_AZ_UNUSED = f"{_C} IN ('UnusedReservation', 'UnusedSavingsPlan')"
_AZ_SP = f"({_C} = 'UnusedSavingsPlan' OR s.pricing_model = 'SavingsPlan')"
_AZ_CD = f"IF({_C} IN ('Usage', 'UnusedReservation', 'UnusedSavingsPlan', 'Purchase'), s.commitment_id, NULL)"  # noqa: E501
_AZ_PRICED = f"{_C} IN ('Usage', 'UnusedReservation', 'UnusedSavingsPlan', 'Purchase')"
_AZ_COVERED = f"({_AZ_CD} IS NOT NULL AND {_C} <> 'Purchase')"
_AZ_QTY = f"IF({_AZ_PRICED}, IFNULL(s.quantity, 0), NULL)"
_AZ_LIST_PRICE = f"IF({_AZ_PRICED}, IFNULL(s.payg_price, s.unit_price), NULL)"
_AZ_CONTRACTED_PRICE = f"IF({_AZ_PRICED}, IFNULL(s.unit_price, s.payg_price), NULL)"
_AZ_EFFECTIVE = (
    f"CASE WHEN {_C} = 'Purchase' AND {_AZ_CD} IS NOT NULL THEN PARSE_NUMERIC('0') "
    f"WHEN {_AZ_COVERED} THEN ROUND(s.effective_price * s.quantity_numeric, 9) ELSE s.cost END"
)
_AZ_CD_QTY = (
    f"CASE WHEN {_AZ_CD} IS NULL THEN NULL "
    f"WHEN {_AZ_SP} THEN CAST(IF({_C} = 'Purchase', s.cost, {_AZ_EFFECTIVE}) AS FLOAT64) "
    "ELSE IFNULL(s.quantity, 0) * CAST(s.block AS FLOAT64) END"
)

AZURE_COLUMNS = {
    "AvailabilityZone": "s.zone",
    "BilledCost": "s.cost",
    "BillingAccountId": "s.account_id",
    "BillingAccountName": "COALESCE(s.account_name, {payer_name}, s.account_id)",
    "BillingAccountType": "IF(s.account_id IS NULL, NULL, 'Billing Account')",
    "BillingCurrency": "s.currency",
    "BillingPeriodEnd": "s.period_end",
    "BillingPeriodStart": "s.period_start",
    "CapacityReservationId": "CAST(NULL AS STRING)",
    "CapacityReservationStatus": "CAST(NULL AS STRING)",
    "ChargeCategory": _AZ_CATEGORY,
    "ChargeClass": f"IF({_C} = 'Refund', 'Correction', CAST(NULL AS STRING))",
    "ChargeDescription": "s.description",
    "ChargeFrequency": _case(
        "s.frequency", {"One-Time": ["OneTime"], "Recurring": ["Recurring"]}, "'Usage-Based'"
    ),
    "ChargePeriodEnd": "TIMESTAMP(DATE_ADD(s.day, INTERVAL 1 DAY))",
    "ChargePeriodStart": "TIMESTAMP(s.day)",
    "CommitmentDiscountCategory": f"CASE WHEN {_AZ_CD} IS NULL THEN NULL "
    f"WHEN {_AZ_SP} THEN 'Spend' ELSE 'Usage' END",
    "CommitmentDiscountId": _AZ_CD,
    "CommitmentDiscountName": f"IF({_AZ_CD} IS NULL, NULL, s.commitment_name)",
    "CommitmentDiscountQuantity": _AZ_CD_QTY,
    "CommitmentDiscountStatus": f"CASE WHEN {_AZ_CD} IS NULL OR {_C} = 'Purchase' THEN NULL "
    f"WHEN {_AZ_UNUSED} THEN 'Unused' ELSE 'Used' END",
    "CommitmentDiscountType": f"CASE WHEN {_AZ_CD} IS NULL THEN NULL "
    f"WHEN {_AZ_SP} THEN 'Savings Plan' ELSE 'Reservation' END",
    "CommitmentDiscountUnit": f"CASE WHEN {_AZ_CD} IS NULL THEN NULL "
    f"WHEN {_AZ_SP} THEN s.currency ELSE s.base_unit END",
    "ConsumedQuantity": f"IF({_C} = 'Usage', IFNULL(s.quantity, 0) * CAST(s.block AS FLOAT64), "
    "NULL)",
    "ConsumedUnit": f"IF({_C} = 'Usage', s.base_unit, NULL)",
    "ContractedCost": f"IFNULL(({_AZ_CONTRACTED_PRICE}) * s.exchange_rate * ({_AZ_QTY}), "
    "CAST(s.cost AS FLOAT64))",
    "ContractedUnitPrice": f"({_AZ_CONTRACTED_PRICE}) * s.exchange_rate",
    "EffectiveCost": _AZ_EFFECTIVE,
    "InvoiceId": "s.invoice_id",
    "InvoiceIssuerName": "'Microsoft'",
    "ListCost": f"IFNULL(({_AZ_LIST_PRICE}) * s.exchange_rate * ({_AZ_QTY}), "
    "CAST(s.cost AS FLOAT64))",
    "ListUnitPrice": f"({_AZ_LIST_PRICE}) * s.exchange_rate",
    "PricingCategory": f"IF({_AZ_PRICED}, CASE WHEN {_AZ_CD} IS NOT NULL "
    "OR s.pricing_model IN ('Reservation', 'SavingsPlan') THEN 'Committed' "
    "WHEN s.pricing_model = 'Spot' THEN 'Dynamic' "
    "WHEN s.pricing_model IN ('OnDemand', 'On Demand') OR s.pricing_model IS NULL "
    "THEN 'Standard' ELSE 'Other' END, NULL)",
    "PricingCurrency": "s.pricing_currency",
    "PricingCurrencyContractedUnitPrice": _AZ_CONTRACTED_PRICE,
    "PricingCurrencyEffectiveCost": "ROUND({EffectiveCost} / "
    "PARSE_NUMERIC(CAST(s.exchange_rate AS STRING)), 9)",
    "PricingCurrencyListUnitPrice": _AZ_LIST_PRICE,
    "PricingQuantity": _AZ_QTY,
    "PricingUnit": f"IF({_AZ_PRICED}, s.pricing_unit, NULL)",
    "ProviderName": "'Microsoft'",
    "PublisherName": "IF(s.publisher_type = 'Marketplace', "
    "IFNULL(s.publisher_name, 'Azure Marketplace'), 'Microsoft')",
    "RegionId": "s.location",
    "RegionName": _lookup("s.location", AZURE_REGIONS, "s.location"),
    "ResourceId": "s.resource_id",
    "ResourceName": "s.resource_name",
    "ResourceType": "IF(s.resource_id IS NULL, NULL, IFNULL(s.consumed_service, 'Unknown'))",
    "ServiceCategory": service_case("s.meter_category", AZURE_SERVICES, part=0),
    "ServiceName": "s.meter_category",
    "ServiceSubcategory": service_case("s.meter_category", AZURE_SERVICES, part=1),
    "SkuId": f"IF({_C} = 'Tax', NULL, s.meter_id)",
    "SkuMeter": f"IF({_C} = 'Tax' OR s.meter_id IS NULL, NULL, s.meter_name)",
    "SkuPriceDetails": f"IF({_C} = 'Tax' OR s.part_number IS NULL, NULL, s.price_details)",
    "SkuPriceId": f"IF({_C} = 'Tax', NULL, s.part_number)",
    "SubAccountId": "s.subscription_id",
    "SubAccountName": "IF(s.subscription_id IS NULL, NULL, "
    "COALESCE(s.subscription_name, {usage_account_name}, s.subscription_id))",
    "SubAccountType": "IF(s.subscription_id IS NULL, NULL, 'Subscription')",
    "Tags": "s.tags",
    "x_ChargeType": _C,
    "x_PricingModel": "s.pricing_model",
    "x_ResourceGroup": "s.resource_group",
    "x_MeterSubCategory": "s.meter_subcategory",
    "x_MeterName": "s.meter_name",
    "x_UnitOfMeasure": "s.uom",
}


# -- GCP billing export (standard; the detailed one adds resources) ----------------------

_GCP_PERIOD_START = "PARSE_DATE('%Y%m%d', CONCAT(invoice.month, '01'))"
_GCP_REGULAR = "cost_type = 'regular'"
GCP_COLUMNS = {
    "AvailabilityZone": "location.zone",
    "BilledCost": _num("cost"),
    "BillingAccountId": "billing_account_id",
    "BillingAccountName": "COALESCE({payer_name}, billing_account_id)",
    "BillingAccountType": "IF(billing_account_id IS NULL, NULL, 'Billing Account')",
    "BillingCurrency": "currency",
    "BillingPeriodEnd": f"TIMESTAMP(DATE_ADD({_GCP_PERIOD_START}, INTERVAL 1 MONTH))",
    "BillingPeriodStart": f"TIMESTAMP({_GCP_PERIOD_START})",
    "CapacityReservationId": "CAST(NULL AS STRING)",
    "CapacityReservationStatus": "CAST(NULL AS STRING)",
    "ChargeCategory": _case("cost_type", {"Usage": ["regular"], "Tax": ["tax"]}, "'Adjustment'"),
    "ChargeClass": "IF(cost_type = 'adjustment', 'Correction', CAST(NULL AS STRING))",
    "ChargeDescription": "sku.description",
    "ChargeFrequency": f"IF({_GCP_REGULAR}, 'Usage-Based', 'One-Time')",
    "ChargePeriodEnd": "usage_end_time",
    "ChargePeriodStart": "usage_start_time",
    "CommitmentDiscountCategory": "CAST(NULL AS STRING)",
    "CommitmentDiscountId": "CAST(NULL AS STRING)",
    "CommitmentDiscountName": "CAST(NULL AS STRING)",
    "CommitmentDiscountQuantity": "CAST(NULL AS FLOAT64)",
    "CommitmentDiscountStatus": "CAST(NULL AS STRING)",
    "CommitmentDiscountType": "CAST(NULL AS STRING)",
    "CommitmentDiscountUnit": "CAST(NULL AS STRING)",
    "ConsumedQuantity": f"IF({_GCP_REGULAR}, {_float('usage.amount')}, NULL)",
    "ConsumedUnit": f"IF({_GCP_REGULAR}, {unit_case('usage.unit', GCP_UNITS)}, NULL)",
    # The standard export has no list or contracted prices: costs as billed, prices unknown.
    "ContractedCost": _float("cost"),
    "ContractedUnitPrice": "CAST(NULL AS FLOAT64)",
    "EffectiveCost": _num("cost"),
    "InvoiceId": "CAST(NULL AS STRING)",
    "InvoiceIssuerName": "'Google Cloud'",
    "ListCost": _float("cost"),
    "ListUnitPrice": "CAST(NULL AS FLOAT64)",
    "PricingCategory": f"IF({_GCP_REGULAR}, 'Standard', NULL)",
    "PricingCurrency": "currency",
    "PricingCurrencyContractedUnitPrice": "CAST(NULL AS FLOAT64)",
    "PricingCurrencyEffectiveCost": _num("cost"),
    "PricingCurrencyListUnitPrice": "CAST(NULL AS FLOAT64)",
    "PricingQuantity": f"IF({_GCP_REGULAR}, {_float('usage.amount_in_pricing_units')}, NULL)",
    "PricingUnit": f"IF({_GCP_REGULAR}, {unit_case('usage.pricing_unit', GCP_UNITS)}, NULL)",
    "ProviderName": "'Google Cloud'",
    "PublisherName": "'Google Cloud'",
    "RegionId": "location.region",
    "RegionName": "location.region",
    "ResourceId": "CAST(NULL AS STRING)",
    "ResourceName": "CAST(NULL AS STRING)",
    "ResourceType": "CAST(NULL AS STRING)",
    "ServiceCategory": service_case("service.description", GCP_SERVICES, part=0),
    "ServiceName": "service.description",
    "ServiceSubcategory": service_case("service.description", GCP_SERVICES, part=1),
    "SkuId": "IF(cost_type = 'tax', NULL, sku.id)",
    "SkuMeter": "IF(cost_type = 'tax', NULL, sku.description)",
    "SkuPriceDetails": "CAST(NULL AS JSON)",
    "SkuPriceId": "IF(cost_type = 'tax', NULL, sku.id)",
    "SubAccountId": "project.id",
    "SubAccountName": "project.name",
    "SubAccountType": "IF(project.id IS NULL, NULL, 'Project')",
    # Built as text: the emulator cannot build JSON from arrays (JSON_OBJECT, TO_JSON).
    "Tags": "PARSE_JSON(COALESCE((SELECT CONCAT('{', STRING_AGG(CONCAT(TO_JSON_STRING(l.key), "
    "':', TO_JSON_STRING(l.value)), ','), '}') FROM UNNEST(labels) AS l), '{}'))",
    "x_ServiceId": "service.id",
    "x_CostType": "cost_type",
    "x_InvoiceMonth": "invoice.month",
    "x_CreditName": "CAST(NULL AS STRING)",
    "x_CreditType": "CAST(NULL AS STRING)",
}

# Each credit becomes its own FOCUS row, so SUM(BilledCost) is the invoice's net total.
GCP_CREDIT_OVERRIDES = {
    "BilledCost": _num("credit.amount"),
    "EffectiveCost": _num("credit.amount"),
    "PricingCurrencyEffectiveCost": _num("credit.amount"),
    "ListCost": "CAST(0 AS FLOAT64)",
    "ContractedCost": "CAST(0 AS FLOAT64)",
    "ChargeCategory": "'Credit'",
    "ChargeClass": "CAST(NULL AS STRING)",
    "ChargeDescription": "credit.name",
    "ChargeFrequency": "'Usage-Based'",
    "ConsumedQuantity": "CAST(NULL AS FLOAT64)",
    "ConsumedUnit": "CAST(NULL AS STRING)",
    "PricingCategory": "CAST(NULL AS STRING)",
    "PricingQuantity": "CAST(NULL AS FLOAT64)",
    "PricingUnit": "CAST(NULL AS STRING)",
    "SkuId": "CAST(NULL AS STRING)",
    "SkuMeter": "CAST(NULL AS STRING)",
    "SkuPriceId": "CAST(NULL AS STRING)",
    "x_CreditName": "credit.name",
    "x_CreditType": "credit.type",
}

# The detailed (resource-level) export: the standard export's fields and ``resource`` (name,
# global_name). GCP gives no resource type; the collection in the resource's full name
# stands for it, as FOCUS's supporting content takes AWS's from the ARN:
# ``//compute.googleapis.com/projects/p/zones/z/instances/123`` →
# ``compute.googleapis.com/instances``.
GCP_DETAILED_TABLE_PREFIX = "gcp_billing_export_resource_v1"
GCP_DETAILED_COLUMNS = {
    "ResourceId": "resource.global_name",
    "ResourceName": "IF(resource.global_name IS NULL, NULL, resource.name)",
    "ResourceType": "IF(resource.global_name IS NULL, NULL, CONCAT("
    "REGEXP_EXTRACT(resource.global_name, r'^//([^/]+)/'), '/', "
    "REGEXP_EXTRACT(resource.global_name, r'/([^/]+)/[^/]+$')))",
}

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
    return typed


def _canonical(column: str, values: Iterable[str]) -> str:
    """Allowed values matched case-insensitively (``Usage-based`` → ``Usage-Based``)."""
    branches = " ".join(f"WHEN {_quote(v.lower())} THEN {_quote(v)}" for v in sorted(values))
    return f"CASE LOWER(s.{column}) {branches} ELSE s.{column} END"


def _native_subcategory() -> str:
    """A 1.0 file has no ServiceSubcategory: the one our mappings give the service when its
    parent is the file's ServiceCategory, else ``Other (<ServiceCategory>)``."""
    known = {name: sub for name, sub in AZURE_SERVICES.items()}
    known.update(GCP_SERVICES)
    known.update({name: sub for name, sub in AWS_SERVICES.values()})
    branches = " ".join(
        f"WHEN s.ServiceName = {_quote(name)} AND s.ServiceCategory = {_quote(classify(sub)[0])} "
        f"THEN {_quote(sub)}"
        for name, sub in sorted(known.items())
    )
    fallback = " ".join(
        f"WHEN {_quote(c)} THEN {_quote('Other (Other)' if c == 'Other' else f'Other ({c})')}"
        for c in sorted(SERVICE_CATEGORIES)
    )
    derived = f"CASE {branches} ELSE CASE s.ServiceCategory {fallback} END END"
    return f"COALESCE(s.ServiceSubcategory, {derived})"


def _native_outer(available: frozenset[str]) -> dict[str, str]:
    columns = {c.name: f"s.{c.name}" for c in FOCUS_COLUMNS}
    for column, values in _CANONICAL.items():
        columns[column] = _canonical(column, values)
    columns["PricingCategory"] = _lookup(
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
    columns["x_SourceFocusVersion"] = _quote(focus_source_version(available))
    return columns


_MARKER = re.compile(r"\[\[([A-Za-z_][A-Za-z0-9_]*)\]\]")
_REFERENCE = re.compile(r"\{(EffectiveCost|payer_name|usage_account_name)\}")


# The same field under another name in another export: MCA cost details (camelCase, and
# these three renamed) against the EA names the mappings use.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "BillingCurrencyCode": ("BillingCurrency",),
    "PricingCurrencyCode": ("PricingCurrency",),
    "ResourceGroup": ("ResourceGroupName",),
}


def _source_column(name: str, available: frozenset[str] | None) -> str | None:
    """The export's column holding ``name``: as written, its CUR 2.0 snake_case name, or an
    alias; matched without regard to case (BigQuery names are case-insensitive, and MCA
    exports write ``costInBillingCurrency`` for EA's ``CostInBillingCurrency``)."""
    if available is None or name in available:
        return name
    by_lower = {column.lower(): column for column in available}
    for candidate in (name, cur2_name(name), *COLUMN_ALIASES.get(name, ())):
        if candidate.lower() in by_lower:
            return by_lower[candidate.lower()]
    return None


def _resolve(expr: str, available: frozenset[str] | None) -> str:
    """Raw-column markers become the column, or a typed NULL when the export lacks it."""

    def column(match: re.Match) -> str:
        return _source_column(match.group(1), available) or "CAST(NULL AS STRING)"

    return _MARKER.sub(column, expr)


def _outer(columns: Mapping[str, str], names: Mapping[str, str]) -> dict[str, str]:
    """The outer expressions with their references filled: another column's expression, or
    an account's name from the provider config (``{payer_name}``), NULL when none given."""
    lookups = {
        "payer_name": names.get("payer", "CAST(NULL AS STRING)"),
        "usage_account_name": names.get("usage", "CAST(NULL AS STRING)"),
    }
    filled = {}
    for name, expr in columns.items():
        filled[name] = _REFERENCE.sub(
            lambda m: f"({columns[m.group(1)]})" if m.group(1) in columns else lookups[m.group(1)],
            expr,
        )
    return filled


def _select_list(columns: Mapping[str, str], order: Iterable[str]) -> str:
    return ",\n  ".join(f"{columns[name]} AS {name}" for name in order)


def focus_sql(
    provider: str,
    *,
    source: str,
    destination: str,
    source_columns=None,
    account_names: bool = False,
    gcp_detailed: bool = False,
) -> str:
    """``INSERT INTO destination (<FOCUS columns>) SELECT … FROM source``, one pass.

    The destination must exist with ``focus_table_columns(provider)`` (the processor
    creates it). ``source`` and ``destination`` are ``project.dataset.table`` and are checked
    as identifiers. ``source_columns`` (the raw table's column names) lets a CUR or Azure
    export that lacks optional columns normalize with NULLs; required ones must be there.
    With ``account_names`` the statement reads the query parameters ``@account_ids`` and
    ``@account_names`` (the tenant's names for its accounts, from its provider config).
    ``gcp_detailed``: the source is GCP's detailed (resource-level) export.
    """
    _provider_check(provider)
    available = frozenset(source_columns) if source_columns is not None else None
    identifiers = {"source": source, "destination": destination}
    order = [c.name for c in focus_table_columns(provider)]
    names = {}
    joins = ""
    if account_names:
        names = {"payer": "payer_acct.name", "usage": "usage_acct.name"}
        accounts = (
            "(SELECT account_id, name FROM UNNEST(@account_ids) AS account_id WITH OFFSET AS i "
            "JOIN UNNEST(@account_names) AS name WITH OFFSET AS j ON i = j)"
        )
        payer, usage = {
            "aws": ("s.payer_id", "s.usage_account_id"),
            "azure": ("s.account_id", "s.subscription_id"),
            "gcp": ("s.billing_account_id", "s.project_id"),
            "focus": ("s.BillingAccountId", "s.SubAccountId"),
        }[provider]
        joins = (
            f"\nLEFT JOIN {accounts} AS payer_acct ON payer_acct.account_id = {payer}"
            f"\nLEFT JOIN {accounts} AS usage_acct ON usage_acct.account_id = {usage}"
        )
    if provider in ("aws", "azure", "focus"):
        required = {"aws": AWS_REQUIRED, "azure": AZURE_REQUIRED, "focus": FOCUS_NATIVE_REQUIRED}
        _require(provider, required[provider], available)
        keep = ""  # the outer WHERE
        if provider == "focus":
            inner_columns = _native_inner()
            outer = _native_outer(available or frozenset(FOCUS_COLUMN_NAMES))
            where, parts, joins = "", "", ""
        elif provider == "aws":
            inner_columns = dict(AWS_INNER, tags=_aws_tags(available or ()))
            inner_columns["unused_cost"] = (
                f"CASE WHEN {inner_columns['line_type']} = 'RIFee' "
                f"THEN {inner_columns['ri_unused_cost']} "
                f"WHEN {inner_columns['line_type']} = 'SavingsPlanRecurringFee' "
                f"THEN IFNULL({inner_columns['sp_commitment']}, 0) - "
                f"IFNULL({inner_columns['sp_used']}, 0) ELSE PARSE_NUMERIC('0') END"
            )
            outer = _outer(AWS_COLUMNS, names)
            # A SavingsPlanNegation only undoes its covered usage's on-demand cost, which
            # FOCUS bills as 0 on the usage row itself: the pair nets to the same total.
            line_type = _resolve("[[lineItem_LineItemType]]", available)
            where = f"\nWHERE {line_type} <> 'SavingsPlanNegation'"
            # Each row twice (a constant array, not one per row: an engine need not join
            # the array back to its row), the second kept only for an unused commitment.
            parts = "\nCROSS JOIN UNNEST([0, 1]) AS part"
            keep = "\nWHERE part = 0 OR s.unused_cost > 0"
        else:
            inner_columns = AZURE_INNER
            outer = _outer(AZURE_COLUMNS, names)
            where, parts = "", ""
        inner = ",\n    ".join(
            f"{_resolve(expr, available)} AS {alias}" for alias, expr in inner_columns.items()
        )
        body = (
            f"SELECT\n  {_select_list(outer, order)}\n"
            f"FROM (\n  SELECT\n    {inner}\n  FROM `{{source}}`{where}\n) AS s{parts}{joins}{keep}"
        )
    else:
        columns = dict(GCP_COLUMNS, **GCP_DETAILED_COLUMNS) if gcp_detailed else GCP_COLUMNS
        gcp = _outer(columns, names)
        credits = _outer(dict(columns, **GCP_CREDIT_OVERRIDES), names)
        gcp_joins = joins.replace("s.billing_account_id", "billing_account_id").replace(
            "s.project_id", "project.id"
        )
        body = (
            f"SELECT\n  {_select_list(gcp, order)}\nFROM `{{source}}`{gcp_joins}\n"
            f"UNION ALL\nSELECT\n  {_select_list(credits, order)}\n"
            f"FROM `{{source}}` CROSS JOIN UNNEST(credits) AS credit{gcp_joins}"
        )
    column_list = ", ".join(order)
    return sql_render(f"INSERT INTO `{{destination}}` ({column_list})\n{body}", identifiers)


def _require(provider: str, required: Iterable[str], available: frozenset[str] | None) -> None:
    if available is None:
        return
    missing = [c for c in required if _source_column(c, available) is None]
    if missing:
        raise FocusSourceError(f"{provider} source lacks required columns: {', '.join(missing)}")


def source_total_expr(provider: str, *, source_columns=None) -> str:
    """A row expression over the raw export: the row's billed cost (``SUM`` it for the
    source's total). ``source_columns`` lets a CUR 2.0 export (snake_case names) be read."""
    available = frozenset(source_columns) if source_columns is not None else None
    if provider == "aws":
        return _num(_resolve("[[lineItem_UnblendedCost]]", available))
    if provider == "azure":
        return _num(_resolve("[[CostInBillingCurrency]]", available))
    if provider == "gcp":
        return (
            f"{_num('cost')} + IFNULL((SELECT SUM({_num('c.amount')}) "
            "FROM UNNEST(credits) AS c), 0)"
        )
    if provider == "focus":
        return "PARSE_NUMERIC(NULLIF(NULLIF(TRIM(BilledCost), 'NULL'), ''))"
    raise ValueError(f"unknown FOCUS provider {provider!r} (expected {', '.join(PROVIDERS)})")


def source_amortized_total_expr(provider: str, *, source_columns=None) -> str:
    """A row expression over the raw export: the row's amortized cost, by the provider's
    own rule.

    AWS: usage at its cost, reservation- and savings-plan-covered usage at their effective
    cost, plus the unused part of each RIFee and SavingsPlanRecurringFee; commitment
    purchases and SavingsPlanNegation count 0. Azure: commitment-covered and unused rows at
    EffectivePrice * Quantity, commitment purchases 0, the rest at cost. GCP and native FOCUS
    files: their cost (GCP, with credits) and EffectiveCost.
    """
    available = frozenset(source_columns) if source_columns is not None else None

    def col(name: str) -> str:
        return _resolve(f"[[{name}]]", available)

    def amount(name: str) -> str:
        return f"IFNULL({_num(col(name))}, 0)"

    if provider == "aws":
        kind = col("lineItem_LineItemType")
        return (
            f"CASE {kind} WHEN 'DiscountedUsage' THEN {amount('reservation_EffectiveCost')} "
            f"WHEN 'SavingsPlanCoveredUsage' THEN {amount('savingsPlan_SavingsPlanEffectiveCost')} "
            f"WHEN 'RIFee' THEN {amount('reservation_UnusedAmortizedUpfrontFeeForBillingPeriod')}"
            f" + {amount('reservation_UnusedRecurringFee')} "
            f"WHEN 'SavingsPlanRecurringFee' THEN {amount('savingsPlan_TotalCommitmentToDate')}"
            f" - {amount('savingsPlan_UsedCommitment')} "
            "WHEN 'SavingsPlanNegation' THEN 0 WHEN 'SavingsPlanUpfrontFee' THEN 0 "
            f"WHEN 'Fee' THEN IF({col('reservation_ReservationARN')} IS NULL, "
            f"{amount('lineItem_UnblendedCost')}, 0) "
            f"ELSE {amount('lineItem_UnblendedCost')} END"
        )
    if provider == "azure":
        commitment = f"COALESCE({col('benefitId')}, {col('ReservationId')})"
        return (
            f"IF({commitment} IS NULL, {amount('CostInBillingCurrency')}, "
            f"IF({col('ChargeType')} = 'Purchase', 0, "
            f"ROUND({amount('EffectivePrice')} * {amount('Quantity')}, 9)))"
        )
    if provider == "focus":
        return "IFNULL(PARSE_NUMERIC(NULLIF(NULLIF(TRIM(EffectiveCost), 'NULL'), '')), 0)"
    return source_total_expr(provider, source_columns=source_columns)


def source_totals_sql(source: str, exprs: Mapping[str, str]) -> str:
    """One query over the raw export summing each named row expression, one column per name
    (every total a ``dq.check`` step takes from one source, in one scan of it)."""
    inner = ", ".join(f"{expr} AS {name}" for name, expr in exprs.items())
    sums = ", ".join(f"SUM({name}) AS {name}" for name in exprs)
    return sql_render(f"SELECT {sums} FROM (SELECT {inner} FROM `{{source}}`)", {"source": source})


def allowed_values_counts() -> dict[str, str]:
    """Per closed-set column, an aggregate counting the rows whose value lies outside its set."""
    counts = {}
    for column, values in sorted(ALLOWED_VALUES.items()):
        listed = _in(sorted(values))
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


__all__ = [
    "ALLOWED_VALUES",
    "FOCUS_COLUMNS",
    "PROVIDERS",
    "FocusSourceError",
    "classify",
    "focus_sql",
    "focus_table_columns",
]
