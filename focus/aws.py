"""FOCUS from AWS: the Cost and Usage Report, CUR 1.0 (``lineItem/...`` headers) and CUR 2.0
(snake_case)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from focus.catalog import (
    AWS_SERVICES,
    service_case,
)
from focus.sql import (
    MARKER,
    as_float,
    as_string,
    cur2_name,
    in_list,
    json_object,
    lookup,
    nested_select,
    num,
    outer_columns,
    quote,
    resolve,
    source_column,
)
from focus.units import (
    AWS_UNITS,
    unit_case,
)
from focus.variants import Variant
from warehouse.sql_identifiers import NAME_PATTERN

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

_EXPORT = (
    "Create a Cost and Usage Report (legacy CUR, CSV) or a CUR 2.0 data export (CSV or "
    "Parquet) in Billing and Cost Management > Data Exports and run aws/cost/focus with it."
)
_PIPELINE = "aws/cost/focus"
VARIANTS = (
    Variant(
        "aws-cur1",
        "an AWS Cost and Usage Report (CUR 1.0, lineItem/… headers)",
        _PIPELINE,
        ("lineItem/UnblendedCost", "lineItem/LineItemType", "bill/PayerAccountId"),
        _EXPORT,
        tuple(c.replace("_", "/", 1) for c in AWS_REQUIRED),
        sample="pipelines/tests/data/aws_cur_sample.csv",
    ),
    Variant(
        "aws-cur1-snake",
        "an AWS CUR 1.0 with snake_case headers (as Athena and CUR 1.0 Parquet name them)",
        _PIPELINE,
        ("line_item_unblended_cost", "line_item_line_item_type", "bill_payer_account_id"),
        _EXPORT,
        tuple(cur2_name(c) for c in AWS_REQUIRED),
        sample="pipelines/tests/data/variants/aws_cur_athena.csv",
    ),
    Variant(
        "aws-cur2",
        "an AWS CUR 2.0 data export (CSV or Parquet)",
        _PIPELINE,
        (
            "line_item_unblended_cost",
            "line_item_line_item_type",
            "bill_payer_account_id",
            "bill_payer_account_name",
            "line_item_usage_account_name",
        ),
        _EXPORT,
        tuple(cur2_name(c) for c in AWS_REQUIRED),
        sample="devtools/cur2_export.py (Parquet, written from AWS's CUR 2.0 table dictionary; "
        "CSV: aws_cur2 in scripts/focus_outputs.py)",
    ),
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
    "cost": num("[[lineItem_UnblendedCost]]"),
    "usage_amount": as_float("[[lineItem_UsageAmount]]"),
    "rate": as_float("[[lineItem_UnblendedRate]]"),
    "list_rate": as_float("[[pricing_publicOnDemandRate]]"),
    "currency": "[[lineItem_CurrencyCode]]",
    "pricing_currency": "[[pricing_currency]]",
    "unit": unit_case("[[pricing_unit]]", AWS_UNITS),
    "payer_id": as_string("[[bill_PayerAccountId]]"),
    "payer_name": "[[bill_PayerAccountName]]",
    "usage_account_id": as_string("[[lineItem_UsageAccountId]]"),
    "usage_account_name": "[[lineItem_UsageAccountName]]",
    "billing_period_start": f"TIMESTAMP({as_string('[[bill_BillingPeriodStartDate]]')})",
    "billing_period_end": f"TIMESTAMP({as_string('[[bill_BillingPeriodEndDate]]')})",
    "usage_start": f"TIMESTAMP({as_string('[[lineItem_UsageStartDate]]')})",
    "usage_end": f"TIMESTAMP({as_string('[[lineItem_UsageEndDate]]')})",
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
    "ri_effective_cost": num("[[reservation_EffectiveCost]]"),
    "ri_unused_cost": f"IFNULL({num('[[reservation_UnusedAmortizedUpfrontFeeForBillingPeriod]]')}"
    f", 0) + IFNULL({num('[[reservation_UnusedRecurringFee]]')}, 0)",
    "ri_unused_quantity": as_float("[[reservation_UnusedQuantity]]"),
    "ri_total_units": as_float("[[reservation_TotalReservedUnits]]"),
    "sp_arn": "[[savingsPlan_SavingsPlanARN]]",
    "sp_effective_cost": num("[[savingsPlan_SavingsPlanEffectiveCost]]"),
    "sp_commitment": num("[[savingsPlan_TotalCommitmentToDate]]"),
    "sp_used": num("[[savingsPlan_UsedCommitment]]"),
    "cr_arn": "[[capacityReservation_CapacityReservationArn]]",
    "cr_status": "[[capacityReservation_CapacityReservationStatus]]",
    "price_details": json_object(
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
_IS_RI = f"({_T} IN ({in_list(_AWS_RI)}) OR ({_T} = 'Fee' AND s.ri_arn IS NOT NULL))"
_IS_SP = f"{_T} IN ({in_list(_AWS_SP)})"
_CD_ID = f"CASE WHEN {_IS_RI} THEN s.ri_arn WHEN {_IS_SP} THEN s.sp_arn END"
_CATEGORY = (
    f"CASE WHEN {_UNUSED} THEN 'Usage' "
    + " ".join(
        f"WHEN {_T} IN ({in_list(values)}) THEN {quote(out)}"
        for out, values in {
            "Usage": _AWS_USAGE,
            "Tax": ("Tax",),
            "Credit": _AWS_CREDITS,
            "Purchase": _AWS_PURCHASES,
        }.items()
    )
    + " ELSE 'Adjustment' END"
)
_PRICED = f"({_T} IN ({in_list(_AWS_USAGE + _AWS_PURCHASES)}) OR {_UNUSED})"
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
    f"CASE WHEN {_CD_ID} IS NULL OR {_T} NOT IN ({in_list(_AWS_USAGE + _AWS_PURCHASES)}) THEN NULL "
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
    f"WHEN {_T} IN ('Fee', 'SavingsPlanUpfrontFee', 'Tax') OR {_T} IN ({in_list(_AWS_CREDITS)}) "
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
    "ConsumedQuantity": f"IF({_T} IN ({in_list(_AWS_USAGE)}) AND NOT {_UNUSED}, "
    "s.usage_amount, NULL)",
    "ConsumedUnit": f"IF({_T} IN ({in_list(_AWS_USAGE)}) AND NOT {_UNUSED} "
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
    f"{lookup('s.region_id', AWS_REGIONS, 'COALESCE(s.location, s.region_id)')})",
    "ResourceId": "s.resource_id",
    "ResourceName": "CAST(NULL AS STRING)",
    "ResourceType": "IF(s.resource_id IS NULL, NULL, IFNULL(s.product_family, s.service_code))",
    "ServiceCategory": service_case(
        "s.service_code", {k: v[1] for k, v in AWS_SERVICES.items()}, part=0
    ),
    "ServiceName": lookup(
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


def _aws_tags(available: Iterable[str], map_columns: frozenset[str] = frozenset()) -> str:
    """A JSON object of the CUR's tag columns present in the source.

    CUR 1.0 writes ``resourceTags/user:Name`` (loaded as ``resourceTags_user_Name``): user
    tags keep their own key, AWS-defined ones (``aws:...``) keep AWS's prefix. CUR 2.0 has
    one ``resource_tags`` map column: JSON text in CSV, a repeated key/value record when
    loaded from Parquet (``map_columns``); its keys are kept as AWS writes them either way.
    """
    available = set(available)
    if "resource_tags" in map_columns:
        pairs = "CONCAT(TO_JSON_STRING(t.key), ':', TO_JSON_STRING(t.value))"
        return (
            "COALESCE((SELECT PARSE_JSON(CONCAT('{', STRING_AGG(" + pairs + ", ','), '}')) "
            "FROM UNNEST(resource_tags) AS t WHERE t.value IS NOT NULL), PARSE_JSON('{}'))"
        )
    if "resource_tags" in available:
        return "COALESCE(SAFE.PARSE_JSON(resource_tags), PARSE_JSON('{}'))"
    # CUR 1.0 with snake_case headers (Athena) writes ``resource_tags_user_name``.
    tags = sorted(
        c
        for c in available
        if c.startswith(("resourceTags_", "resource_tags_")) and NAME_PATTERN.match(c)
    )
    if not tags:
        return "PARSE_JSON('{}')"
    return json_object({_aws_tag_key(c): f"NULLIF({c}, '')" for c in tags})


def _aws_tag_key(column: str) -> str:
    key = column.removeprefix("resourceTags_").removeprefix("resource_tags_")
    if key.startswith("user_"):
        return key.removeprefix("user_")
    if key.startswith("aws_"):
        return "aws:" + key.removeprefix("aws_")
    return key


ACCOUNTS = ("s.payer_id", "s.usage_account_id")


def _from_product_map(expr: str, available) -> str:
    """CUR 2.0 keeps only some product attributes as columns (``product_region_code``); the
    rest (``region``, ``product_name``, ``servicename``, ``group`` …) are keys of its
    ``product`` map. Loaded from Parquet, the map is a repeated key/value record: a product
    marker no column answers reads the map's value under the attribute's snake_case name."""

    def attribute(match: re.Match) -> str:
        name = match.group(1)
        if not name.startswith("product_") or source_column(name, available) is not None:
            return match.group(0)
        key = quote(cur2_name(name).removeprefix("product_"))
        return f"(SELECT p.value FROM UNNEST(product) AS p WHERE p.key = {key} LIMIT 1)"

    return MARKER.sub(attribute, expr)


def select(
    *, available, names, joins, order, map_columns: frozenset[str] = frozenset(), **options
) -> str:
    """The CUR's FOCUS rows: each line item once, and again for an unused commitment.
    ``map_columns``: the source's Parquet maps, loaded as repeated key/value records."""
    inner_columns = dict(AWS_INNER, tags=_aws_tags(available or (), map_columns))
    if "product" in map_columns:
        inner_columns = {k: _from_product_map(v, available) for k, v in inner_columns.items()}
    inner_columns["unused_cost"] = (
        f"CASE WHEN {inner_columns['line_type']} = 'RIFee' "
        f"THEN {inner_columns['ri_unused_cost']} "
        f"WHEN {inner_columns['line_type']} = 'SavingsPlanRecurringFee' "
        f"THEN IFNULL({inner_columns['sp_commitment']}, 0) - "
        f"IFNULL({inner_columns['sp_used']}, 0) ELSE PARSE_NUMERIC('0') END"
    )
    outer = outer_columns(AWS_COLUMNS, names)
    # A SavingsPlanNegation only undoes its covered usage's on-demand cost, which
    # FOCUS bills as 0 on the usage row itself: the pair nets to the same total.
    line_type = resolve("[[lineItem_LineItemType]]", available)
    where = f"\nWHERE {line_type} <> 'SavingsPlanNegation'"
    # Each row twice (a constant array, not one per row: an engine need not join
    # the array back to its row), the second kept only for an unused commitment.
    parts = "\nCROSS JOIN UNNEST([0, 1]) AS part"
    keep = "\nWHERE part = 0 OR s.unused_cost > 0"
    return nested_select(
        outer, inner_columns, available, order, where=where, after=f"{parts}{joins}{keep}"
    )


def total(available) -> str:
    return num(resolve("[[lineItem_UnblendedCost]]", available))


def amortized_total(available) -> str:
    """Usage at its cost, reservation- and savings-plan-covered usage at their effective
    cost, plus the unused part of each RIFee and SavingsPlanRecurringFee; commitment
    purchases and SavingsPlanNegation count 0."""

    def col(name: str) -> str:
        return resolve(f"[[{name}]]", available)

    def amount(name: str) -> str:
        return f"IFNULL({num(col(name))}, 0)"

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
