"""FOCUS from Azure cost details: EA and MCA exports, actual or amortized, and the variants
Azure writes them in (``VARIANTS``)."""

from __future__ import annotations

from focus.catalog import (
    AZURE_SERVICES,
    service_case,
)
from focus.sql import (
    as_float,
    as_string,
    case,
    json_object,
    lookup,
    nested_select,
    num,
    outer_columns,
    resolve,
)
from focus.units import (
    AZURE_UNITS_OF_MEASURE,
    azure_pricing_unit,
    azure_unit,
)
from focus.variants import Variant

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

_EXPORT = (
    "Export 'Cost and usage details (actual cost)' or '(amortized cost)' as CSV from Cost "
    "Management > Exports (or the Cost Details API) and run azure/cost/focus with it."
)
_PIPELINE = "azure/cost/focus"
VARIANTS = (
    Variant(
        "azure-ea",
        "an Azure EA cost-details export",
        _PIPELINE,
        ("CostInBillingCurrency", "BillingCurrencyCode", "MeterCategory"),
        _EXPORT,
        AZURE_REQUIRED,
        sample="pipelines/tests/data/azure_ea_sample.csv",
    ),
    Variant(
        "azure-ea-cost",
        "an Azure EA cost-details export with Cost and BillingCurrency",
        _PIPELINE,
        ("Cost", "BillingCurrency", "MeterCategory", "PricingModel"),
        _EXPORT,
        AZURE_REQUIRED,
        sample="pipelines/tests/data/variants/azure_ea_cost_actual.csv",
    ),
    Variant(
        "azure-mca",
        "an Azure MCA cost-details export",
        _PIPELINE,
        ("costInBillingCurrency", "billingCurrency", "invoiceId", "pricingCurrency"),
        _EXPORT,
        AZURE_REQUIRED,
        sample="devtools/commitment_fixtures.py (azure_mca_export)",
    ),
    Variant(
        "azure-cost-details",
        "an Azure cost-details file from the Cost Details API (camelCase)",
        _PIPELINE,
        (
            "costInBillingCurrency",
            "billingCurrency",
            "costInUsd",
            "paygCostInBillingCurrency",
            "paygCostInUsd",
        ),
        _EXPORT,
        AZURE_REQUIRED,
        sample="pipelines/tests/data/variants/azure_cost_details_camel.csv",
    ),
    Variant(
        "azure-legacy",
        "Azure's legacy usage file",
        _PIPELINE,
        ("UsageDateTime", "PreTaxCost"),
        _EXPORT,
        refused="its schema (retired by Microsoft) has no billing account, billing period "
        "or charge type, so it cannot be read as FOCUS.",
        sample="pipelines/tests/data/variants/azure_legacy_usage.csv",
    ),
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
    # EA exports write M/D/YYYY, cost-details exports and the API ISO dates; either may
    # carry a time (``9/1/2020 12:00:00 AM``, ``2020-09-01T00:00:00.0000000Z``), which a
    # day-grained column does not need: the date is what precedes the first blank or T.
    value = f"REGEXP_EXTRACT(TRIM({as_string(f'[[{column}]]')}), r'^[^ T]+')"
    return f"COALESCE(SAFE.PARSE_DATE('%m/%d/%Y', {value}), SAFE.PARSE_DATE('%Y-%m-%d', {value}))"


_AZ_BLOCKS = {uom: azure_unit(uom)[0] for uom in AZURE_UNITS_OF_MEASURE}
_AZ_BASE_UNITS = {uom: azure_unit(uom)[1] for uom in AZURE_UNITS_OF_MEASURE}
_AZ_PRICING_UNITS = {uom: azure_pricing_unit(uom) for uom in AZURE_UNITS_OF_MEASURE}

AZURE_INNER = {
    "charge_type": "[[ChargeType]]",
    "pricing_model": "[[PricingModel]]",
    "cost": num("[[CostInBillingCurrency]]"),
    "quantity": as_float("[[Quantity]]"),
    "payg_price": as_float("[[PayGPrice]]"),
    "unit_price": as_float("[[UnitPrice]]"),
    "effective_price": num("[[EffectivePrice]]"),
    "quantity_numeric": num("[[Quantity]]"),
    "exchange_rate": f"IFNULL({as_float('[[ExchangeRatePricingToBilling]]')}, 1)",
    "currency": "[[BillingCurrencyCode]]",
    "pricing_currency": "COALESCE([[PricingCurrencyCode]], [[BillingCurrencyCode]])",
    "uom": "[[UnitOfMeasure]]",
    "block": lookup("[[UnitOfMeasure]]", {k: str(v) for k, v in _AZ_BLOCKS.items()}, "'1'"),
    "pricing_unit": lookup("[[UnitOfMeasure]]", _AZ_PRICING_UNITS, "[[UnitOfMeasure]]"),
    "base_unit": lookup("[[UnitOfMeasure]]", _AZ_BASE_UNITS, "[[UnitOfMeasure]]"),
    "account_id": as_string("[[BillingAccountId]]"),
    "account_name": "[[BillingAccountName]]",
    "subscription_id": "[[SubscriptionId]]",
    "subscription_name": "[[SubscriptionName]]",
    "period_start": f"TIMESTAMP({_azure_date('BillingPeriodStartDate')})",
    # FOCUS periods end exclusive; the export's end date is the period's last day.
    "period_end": f"TIMESTAMP(DATE_ADD({_azure_date('BillingPeriodEndDate')}, INTERVAL 1 DAY))",
    "day": _azure_date("Date"),
    "description": "COALESCE([[ProductName]], [[Product]], [[MeterName]])",
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
    "price_details": json_object(
        {"x_MeterSubCategory": "[[MeterSubCategory]]", "x_ServiceFamily": "[[ServiceFamily]]"}
    ),
}

_C = "s.charge_type"
_AZ_CATEGORY = case(
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
# Commitment-covered usage and unused commitment: an actual-cost export bills them 0 (the
# purchase row bills the commitment), an amortized one carries their share of it in the cost
# column (and has no purchase rows). Either way nothing is billed on them, and their
# effective cost is the amortized share: the cost column where the export put it there,
# else EffectivePrice * Quantity.
_AZ_EFFECTIVE = (
    f"CASE WHEN {_C} = 'Purchase' AND {_AZ_CD} IS NOT NULL THEN PARSE_NUMERIC('0') "
    f"WHEN {_AZ_COVERED} THEN IF(s.cost <> 0, s.cost, "
    "ROUND(s.effective_price * s.quantity_numeric, 9)) ELSE s.cost END"
)
_AZ_BILLED = f"IF({_AZ_COVERED}, PARSE_NUMERIC('0'), s.cost)"
_AZ_CD_QTY = (
    f"CASE WHEN {_AZ_CD} IS NULL THEN NULL "
    f"WHEN {_AZ_SP} THEN CAST(IF({_C} = 'Purchase', s.cost, {_AZ_EFFECTIVE}) AS FLOAT64) "
    "ELSE IFNULL(s.quantity, 0) * CAST(s.block AS FLOAT64) END"
)

AZURE_COLUMNS = {
    "AvailabilityZone": "s.zone",
    "BilledCost": _AZ_BILLED,
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
    "ChargeFrequency": case(
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
    "RegionName": lookup("s.location", AZURE_REGIONS, "s.location"),
    "ResourceId": "s.resource_id",
    "ResourceName": "s.resource_name",
    "ResourceType": "IF(s.resource_id IS NULL, NULL, IFNULL(s.consumed_service, 'Unknown'))",
    "ServiceCategory": service_case("s.meter_category", AZURE_SERVICES, part=0),
    "ServiceName": "s.meter_category",
    "ServiceSubcategory": service_case("s.meter_category", AZURE_SERVICES, part=1),
    # A commitment purchase has no meter: its product (part number) is its SKU, as it is
    # its SKU price (one parent SkuId per SkuPriceId, SkuId never null on a purchase).
    "SkuId": f"IF({_C} = 'Tax', NULL, COALESCE(s.meter_id, s.part_number))",
    # A purchase's SKU is its product: what it measures is the product bought (its name).
    "SkuMeter": f"IF({_C} = 'Tax' OR COALESCE(s.meter_id, s.part_number) IS NULL, NULL, "
    "IF(s.meter_id IS NULL, s.description, s.meter_name))",
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


ACCOUNTS = ("s.account_id", "s.subscription_id")


def select(*, available, names, joins, order, **options) -> str:
    outer = outer_columns(AZURE_COLUMNS, names)
    return nested_select(outer, AZURE_INNER, available, order, after=joins)


def _row_rule(available) -> tuple:
    def col(name: str) -> str:
        return resolve(f"[[{name}]]", available)

    def amount(name: str) -> str:
        return f"IFNULL({num(col(name))}, 0)"

    kind = col("ChargeType")
    commitment = f"COALESCE({col('benefitId')}, {col('ReservationId')})"
    covered = (
        f"({commitment} IS NOT NULL AND "
        f"{kind} IN ('Usage', 'UnusedReservation', 'UnusedSavingsPlan'))"
    )
    return amount, covered, commitment, kind


def total(available) -> str:
    """The cost column, but 0 on commitment-covered and unused rows (an amortized export puts
    the commitment's share there; an actual-cost export 0)."""
    amount, covered, _, _ = _row_rule(available)
    return f"IF({covered}, 0, {amount('CostInBillingCurrency')})"


def amortized_total(available) -> str:
    """Commitment-covered and unused rows at their cost where the export gave one (amortized),
    else EffectivePrice * Quantity; commitment purchases 0; the rest at cost."""
    amount, covered, commitment, kind = _row_rule(available)
    cost = amount("CostInBillingCurrency")
    return (
        f"CASE WHEN {commitment} IS NOT NULL AND {kind} = 'Purchase' THEN 0 "
        f"WHEN {covered} THEN IF({cost} <> 0, {cost}, "
        f"ROUND({amount('EffectivePrice')} * {amount('Quantity')}, 9)) ELSE {cost} END"
    )
