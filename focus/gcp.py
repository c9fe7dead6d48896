"""FOCUS from the GCP billing export: standard, and detailed (resource-level)."""

from __future__ import annotations

from focus.catalog import (
    GCP_SERVICES,
    service_case,
)
from focus.sql import as_float, case, num, outer_columns, select_list
from focus.units import (
    GCP_UNITS,
    unit_case,
)
from focus.variants import Variant

# -- GCP billing export (standard; the detailed one adds resources) ----------------------

_GCP_PERIOD_START = "PARSE_DATE('%Y%m%d', CONCAT(invoice.month, '01'))"
_GCP_REGULAR = "cost_type = 'regular'"
GCP_COLUMNS = {
    "AvailabilityZone": "location.zone",
    "BilledCost": num("cost"),
    "BillingAccountId": "billing_account_id",
    "BillingAccountName": "COALESCE({payer_name}, billing_account_id)",
    "BillingAccountType": "IF(billing_account_id IS NULL, NULL, 'Billing Account')",
    "BillingCurrency": "currency",
    "BillingPeriodEnd": f"TIMESTAMP(DATE_ADD({_GCP_PERIOD_START}, INTERVAL 1 MONTH))",
    "BillingPeriodStart": f"TIMESTAMP({_GCP_PERIOD_START})",
    "CapacityReservationId": "CAST(NULL AS STRING)",
    "CapacityReservationStatus": "CAST(NULL AS STRING)",
    "ChargeCategory": case("cost_type", {"Usage": ["regular"], "Tax": ["tax"]}, "'Adjustment'"),
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
    "ConsumedQuantity": f"IF({_GCP_REGULAR}, {as_float('usage.amount')}, NULL)",
    "ConsumedUnit": f"IF({_GCP_REGULAR}, {unit_case('usage.unit', GCP_UNITS)}, NULL)",
    # The standard export has no list or contracted prices: costs as billed, prices unknown.
    "ContractedCost": as_float("cost"),
    "ContractedUnitPrice": "CAST(NULL AS FLOAT64)",
    "EffectiveCost": num("cost"),
    "InvoiceId": "CAST(NULL AS STRING)",
    "InvoiceIssuerName": "'Google Cloud'",
    "ListCost": as_float("cost"),
    "ListUnitPrice": "CAST(NULL AS FLOAT64)",
    "PricingCategory": f"IF({_GCP_REGULAR}, 'Standard', NULL)",
    "PricingCurrency": "currency",
    "PricingCurrencyContractedUnitPrice": "CAST(NULL AS FLOAT64)",
    "PricingCurrencyEffectiveCost": num("cost"),
    "PricingCurrencyListUnitPrice": "CAST(NULL AS FLOAT64)",
    "PricingQuantity": f"IF({_GCP_REGULAR}, {as_float('usage.amount_in_pricing_units')}, NULL)",
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
    "BilledCost": num("credit.amount"),
    "EffectiveCost": num("credit.amount"),
    "PricingCurrencyEffectiveCost": num("credit.amount"),
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
GCP_DETAILED_COLUMNS = {
    "ResourceId": "resource.global_name",
    "ResourceName": "IF(resource.global_name IS NULL, NULL, resource.name)",
    "ResourceType": "IF(resource.global_name IS NULL, NULL, CONCAT("
    "REGEXP_EXTRACT(resource.global_name, r'^//([^/]+)/'), '/', "
    "REGEXP_EXTRACT(resource.global_name, r'/([^/]+)/[^/]+$')))",
}


_EXPORT = (
    "Enable the Cloud Billing export to BigQuery (standard or detailed usage cost), store its "
    "table as the gcp provider config's billing_export_table and run gcp/cost/focus."
)
# A BigQuery export's "header" is its table's schema: top-level names, nested columns
# (``service.description``, ``credits[].amount``) by the name of their record.
_STANDARD = ("billing_account_id", "service", "sku", "usage_start_time", "cost", "invoice")
#: The other top-level columns the normalization reads (both exports have them).
_READS = (
    "usage_end_time",
    "project",
    "labels",
    "location",
    "currency",
    "usage",
    "credits",
    "cost_type",
)
VARIANTS = (
    Variant(
        "gcp-standard",
        "a GCP standard usage cost export",
        "gcp/cost/focus",
        _STANDARD,
        _EXPORT,
        _READS,
        sample="devtools/gcp_export.py (generated rows)",
    ),
    Variant(
        "gcp-detailed",
        "a GCP detailed (resource-level) usage cost export",
        "gcp/cost/focus",
        (*_STANDARD, "resource"),
        _EXPORT,
        _READS,
        sample="devtools/gcp_export.py (generated rows, detailed=True)",
    ),
)

ACCOUNTS = ("s.billing_account_id", "s.project_id")


def select(*, available, names, joins, order, detailed: bool = False, **options) -> str:
    """The export's rows, then one row per credit (``detailed``: the resource-level export)."""
    columns = dict(GCP_COLUMNS, **GCP_DETAILED_COLUMNS) if detailed else GCP_COLUMNS
    rows = outer_columns(columns, names)
    credits = outer_columns(dict(columns, **GCP_CREDIT_OVERRIDES), names)
    gcp_joins = joins.replace("s.billing_account_id", "billing_account_id").replace(
        "s.project_id", "project.id"
    )
    return (
        f"SELECT\n  {select_list(rows, order)}\nFROM `{{source}}`{gcp_joins}\n"
        f"UNION ALL\nSELECT\n  {select_list(credits, order)}\n"
        f"FROM `{{source}}` CROSS JOIN UNNEST(credits) AS credit{gcp_joins}"
    )


def total(available) -> str:
    """Cost with its credits."""
    return f"{num('cost')} + IFNULL((SELECT SUM({num('c.amount')}) FROM UNNEST(credits) AS c), 0)"


def amortized_total(available) -> str:
    return total(available)
