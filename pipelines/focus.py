"""FOCUS 1.2 normalization of AWS CUR, Azure exports and the GCP billing export, in SQL."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from pipelines.sql_identifiers import NAME_PATTERN, sql_render
from pipelines.warehouse import Column

PROVIDERS = ("aws", "azure", "gcp")

CHARGE_CATEGORIES = frozenset({"Usage", "Purchase", "Tax", "Credit", "Adjustment"})
CHARGE_CLASSES = frozenset({"Correction"})  # or NULL
CHARGE_FREQUENCIES = frozenset({"One-Time", "Recurring", "Usage-Based"})
SERVICE_CATEGORIES = frozenset(
    {
        "AI and Machine Learning",
        "Analytics",
        "Business Applications",
        "Compute",
        "Databases",
        "Developer Tools",
        "Multicloud",
        "Identity",
        "Integration",
        "Internet of Things",
        "Management and Governance",
        "Media",
        "Migration",
        "Mobile",
        "Networking",
        "Security",
        "Storage",
        "Web",
        "Other",
    }
)

# Columns whose every value must lie in a closed set; NULL allowed only where noted.
ALLOWED_VALUES: dict[str, frozenset[str]] = {
    "ChargeCategory": CHARGE_CATEGORIES,
    "ChargeClass": CHARGE_CLASSES,
    "ChargeFrequency": CHARGE_FREQUENCIES,
    "ServiceCategory": SERVICE_CATEGORIES,
}
NULLABLE_ALLOWED_VALUES = frozenset({"ChargeClass"})

FOCUS_COLUMNS: tuple[Column, ...] = (
    Column("BilledCost", "NUMERIC"),
    Column("EffectiveCost", "NUMERIC"),
    Column("ListCost", "NUMERIC"),
    Column("ContractedCost", "NUMERIC"),
    Column("BillingAccountId", "STRING"),
    Column("BillingAccountName", "STRING"),
    Column("BillingCurrency", "STRING"),
    Column("BillingPeriodStart", "TIMESTAMP"),
    Column("BillingPeriodEnd", "TIMESTAMP"),
    Column("ChargeCategory", "STRING"),
    Column("ChargeClass", "STRING"),
    Column("ChargeDescription", "STRING"),
    Column("ChargeFrequency", "STRING"),
    Column("ChargePeriodStart", "TIMESTAMP"),
    Column("ChargePeriodEnd", "TIMESTAMP"),
    Column("ConsumedQuantity", "NUMERIC"),
    Column("ConsumedUnit", "STRING"),
    Column("PricingQuantity", "NUMERIC"),
    Column("PricingUnit", "STRING"),
    Column("ProviderName", "STRING"),
    Column("PublisherName", "STRING"),
    Column("InvoiceIssuerName", "STRING"),
    Column("RegionId", "STRING"),
    Column("RegionName", "STRING"),
    Column("ResourceId", "STRING"),
    Column("ResourceName", "STRING"),
    Column("ResourceType", "STRING"),
    Column("ServiceCategory", "STRING"),
    Column("ServiceName", "STRING"),
    Column("SkuId", "STRING"),
    Column("SkuPriceId", "STRING"),
    Column("SubAccountId", "STRING"),
    Column("SubAccountName", "STRING"),
    Column("Tags", "JSON"),
)
MANDATORY_COLUMNS: tuple[str, ...] = tuple(c.name for c in FOCUS_COLUMNS)

# Columns FOCUS requires to be filled on every row, whatever the provider.
NOT_NULL_COLUMNS: tuple[str, ...] = (
    "BilledCost",
    "EffectiveCost",
    "BillingAccountId",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargeCategory",
    "ChargeFrequency",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ProviderName",
    "InvoiceIssuerName",
    "ServiceCategory",
)


class FocusSourceError(ValueError):
    """The source table lacks columns the provider's normalization needs."""


def _num(expr: str) -> str:
    # PARSE_NUMERIC over a STRING: the emulator casts to NUMERIC with three decimals only,
    # and a CSV loaded by autodetect may hold FLOAT64; STRING first accepts both.
    return f"PARSE_NUMERIC(CAST({expr} AS STRING))"


def _case(expr: str, mapping: Mapping[str, Iterable[str]], default: str) -> str:
    """A CASE over constant string lists; the lists are ours, never user input."""
    branches = " ".join(
        "WHEN {e} IN ({vals}) THEN '{out}'".format(
            e=expr, vals=", ".join(f"'{v}'" for v in values), out=out
        )
        for out, values in mapping.items()
    )
    return f"CASE {branches} ELSE '{default}' END"


def _string(expr: str) -> str:
    return f"CAST({expr} AS STRING)"


# -- AWS CUR 1.0 ---------------------------------------------------------------------------

AWS_SERVICE_CATEGORIES = {
    "Compute": ["AmazonEC2", "AWSLambda", "AmazonECS", "AmazonEKS", "AWSBatch", "AmazonLightsail"],
    "Storage": [
        "AmazonS3",
        "AmazonEFS",
        "AmazonGlacier",
        "AWSBackup",
        "AmazonFSx",
        "AWSStorageGateway",
    ],
    "Databases": [
        "AmazonRDS",
        "AmazonDynamoDB",
        "AmazonElastiCache",
        "AmazonRedshift",
        "AmazonDocDB",
    ],
    "Networking": ["AWSDataTransfer", "AmazonVPC", "AmazonCloudFront", "AmazonRoute53", "AWSELB"],
    "Integration": ["AWSQueueService", "AmazonSNS", "AmazonStates", "AWSEvents", "AmazonMQ"],
    "Analytics": [
        "AWSGlue",
        "AmazonAthena",
        "AmazonKinesis",
        "AmazonQuickSight",
        "ElasticMapReduce",
    ],
    "Management and Governance": [
        "AmazonCloudWatch",
        "AWSCloudTrail",
        "AWSConfig",
        "AWSSystemsManager",
    ],
    "Developer Tools": ["AWSCloudShell", "AWSCodeBuild", "AWSCodePipeline", "AWSXRay"],
    "Security": ["awskms", "AWSSecretsManager", "AmazonGuardDuty", "AWSWAF", "AWSShield"],
    "Identity": ["AmazonCognito", "AWSDirectoryService"],
    "Migration": ["AWSMigrationHubRefactorSpaces", "AWSDatabaseMigrationSvc", "AWSTransfer"],
    "Internet of Things": ["AWSIoT"],
    "AI and Machine Learning": ["AmazonSageMaker", "AmazonBedrock", "AmazonRekognition"],
}

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

_AWS_TYPE = "[[lineItem_LineItemType]]"
AWS_COLUMNS = {
    "BilledCost": _num("[[lineItem_UnblendedCost]]"),
    "EffectiveCost": (
        f"CASE WHEN {_AWS_TYPE} = 'SavingsPlanCoveredUsage' "
        f"THEN {_num('[[savingsPlan_SavingsPlanEffectiveCost]]')} "
        f"WHEN {_AWS_TYPE} = 'DiscountedUsage' THEN {_num('[[reservation_EffectiveCost]]')} "
        f"WHEN {_AWS_TYPE} IN ('SavingsPlanNegation', 'SavingsPlanUpfrontFee', 'RIFee') "
        "THEN PARSE_NUMERIC('0') "
        f"ELSE {_num('[[lineItem_UnblendedCost]]')} END"
    ),
    "ListCost": f"COALESCE({_num('[[pricing_publicOnDemandCost]]')}, "
    f"{_num('[[lineItem_UnblendedCost]]')})",
    "ContractedCost": _num("[[lineItem_UnblendedCost]]"),
    "BillingAccountId": _string("[[bill_PayerAccountId]]"),
    "BillingAccountName": _string("[[bill_PayerAccountName]]"),
    "BillingCurrency": "[[lineItem_CurrencyCode]]",
    "BillingPeriodStart": f"TIMESTAMP({_string('[[bill_BillingPeriodStartDate]]')})",
    "BillingPeriodEnd": f"TIMESTAMP({_string('[[bill_BillingPeriodEndDate]]')})",
    "ChargeCategory": _case(
        _AWS_TYPE,
        {
            "Usage": ["Usage", "DiscountedUsage", "SavingsPlanCoveredUsage"],
            "Tax": ["Tax"],
            "Credit": [
                "Credit",
                "Refund",
                "BundledDiscount",
                "Discount",
                "EdpDiscount",
                "PrivateRateDiscount",
                "SavingsPlanNegation",
            ],
            "Purchase": ["Fee", "RIFee", "SavingsPlanRecurringFee", "SavingsPlanUpfrontFee"],
        },
        "Adjustment",
    ),
    "ChargeClass": f"IF({_AWS_TYPE} = 'Refund', 'Correction', CAST(NULL AS STRING))",
    "ChargeDescription": "[[lineItem_LineItemDescription]]",
    "ChargeFrequency": _case(
        _AWS_TYPE,
        {
            "Recurring": ["RIFee", "SavingsPlanRecurringFee"],
            "One-Time": ["Fee", "SavingsPlanUpfrontFee"],
        },
        "Usage-Based",
    ),
    "ChargePeriodStart": f"TIMESTAMP({_string('[[lineItem_UsageStartDate]]')})",
    "ChargePeriodEnd": f"TIMESTAMP({_string('[[lineItem_UsageEndDate]]')})",
    "ConsumedQuantity": f"IF({_AWS_TYPE} IN ('Usage', 'DiscountedUsage', "
    f"'SavingsPlanCoveredUsage'), {_num('[[lineItem_UsageAmount]]')}, NULL)",
    "ConsumedUnit": f"IF({_AWS_TYPE} IN ('Usage', 'DiscountedUsage', "
    "'SavingsPlanCoveredUsage'), [[pricing_unit]], NULL)",
    "PricingQuantity": _num("[[lineItem_UsageAmount]]"),
    "PricingUnit": "[[pricing_unit]]",
    "ProviderName": "'AWS'",
    "PublisherName": "COALESCE([[lineItem_LegalEntity]], [[bill_BillingEntity]], 'AWS')",
    "InvoiceIssuerName": "COALESCE([[bill_InvoicingEntity]], 'AWS')",
    "RegionId": "COALESCE([[product_regionCode]], [[product_region]])",
    "RegionName": "[[product_location]]",
    "ResourceId": "[[lineItem_ResourceId]]",
    "ResourceName": "CAST(NULL AS STRING)",
    "ResourceType": "[[product_productFamily]]",
    "ServiceCategory": _case("[[lineItem_ProductCode]]", AWS_SERVICE_CATEGORIES, "Other"),
    "ServiceName": "COALESCE([[product_servicename]], [[product_ProductName]], "
    "[[lineItem_ProductCode]])",
    "SkuId": "[[product_sku]]",
    "SkuPriceId": "[[pricing_RateCode]]",
    "SubAccountId": _string("[[lineItem_UsageAccountId]]"),
    "SubAccountName": _string("[[lineItem_UsageAccountName]]"),
    "Tags": "PARSE_JSON('{}')",  # replaced by the tag columns the source has
    "x_LineItemId": "[[identity_LineItemId]]",
    "x_LineItemType": _AWS_TYPE,
    "x_ProductCode": "[[lineItem_ProductCode]]",
    "x_UsageType": "[[lineItem_UsageType]]",
    "x_Operation": "[[lineItem_Operation]]",
    "x_BillType": "[[bill_BillType]]",
}


def _aws_tags(available: Iterable[str]) -> str:
    """A JSON object of the CUR's ``resourceTags/...`` columns present in the source."""
    tags = sorted(c for c in available if c.startswith("resourceTags_") and NAME_PATTERN.match(c))
    if not tags:
        return "PARSE_JSON('{}')"
    # ARRAY_TO_STRING drops NULL elements, so a row carries only the tags it has.
    pairs = ", ".join(
        f"IF({c} IS NULL OR {c} = '', NULL, CONCAT({_json_key(c)}, TO_JSON_STRING({c})))"
        for c in tags
    )
    return f"PARSE_JSON(CONCAT('{{', ARRAY_TO_STRING([{pairs}], ','), '}}'))"


def _json_key(column: str) -> str:
    key = column.removeprefix("resourceTags_")
    return "'\"" + key + "\":'"


# -- Azure EA / cost details export -------------------------------------------------------

AZURE_SERVICE_CATEGORIES = {
    "Compute": [
        "Virtual Machines",
        "Virtual Machines Licenses",
        "Container Instances",
        "Azure App Service",
        "Functions",
        "Cloud Services",
        "Batch",
        "Azure Kubernetes Service",
    ],
    "Storage": ["Storage", "Backup", "Azure NetApp Files"],
    "Networking": [
        "Virtual Network",
        "Bandwidth",
        "Load Balancer",
        "VPN Gateway",
        "Application Gateway",
        "Azure DNS",
        "Content Delivery Network",
        "ExpressRoute",
        "Azure Front Door Service",
        "Network Watcher",
        "Azure Firewall",
        "NAT Gateway",
    ],
    "Databases": [
        "SQL Database",
        "Azure Cosmos DB",
        "Azure Database for PostgreSQL",
        "Azure Database for MySQL",
        "Redis Cache",
        "SQL Managed Instance",
    ],
    "Analytics": [
        "Azure Data Factory v2",
        "Azure Synapse Analytics",
        "HDInsight",
        "Azure Databricks",
        "Azure Data Explorer",
        "Power BI Embedded",
    ],
    "Integration": ["Event Hubs", "Service Bus", "Logic Apps", "API Management", "Event Grid"],
    "Security": ["Key Vault", "Microsoft Defender for Cloud", "Sentinel"],
    "Identity": ["Microsoft Entra ID", "Azure Active Directory B2C"],
    "Management and Governance": [
        "Azure Monitor",
        "Log Analytics",
        "Automation",
        "Insight and Analytics",
    ],
    "AI and Machine Learning": ["Cognitive Services", "Azure Machine Learning", "Azure OpenAI"],
    "Internet of Things": ["IoT Hub", "IoT Central"],
    "Developer Tools": ["Azure DevOps", "Visual Studio Subscription"],
}

AZURE_REQUIRED = (
    "Date",
    "CostInBillingCurrency",
    "BillingCurrencyCode",
    "BillingAccountId",
    "BillingPeriodStartDate",
    "BillingPeriodEndDate",
    "MeterCategory",
)


def _azure_date(column: str) -> str:
    # EA exports write M/D/YYYY; newer cost-details exports ISO dates.
    value = _string(f"[[{column}]]")
    return f"COALESCE(SAFE.PARSE_DATE('%m/%d/%Y', {value}), SAFE.PARSE_DATE('%Y-%m-%d', {value}))"


AZURE_COLUMNS = {
    "BilledCost": _num("[[CostInBillingCurrency]]"),
    "EffectiveCost": _num("[[CostInBillingCurrency]]"),
    "ListCost": f"COALESCE(ROUND({_num('[[PayGPrice]]')} * {_num('[[Quantity]]')}, 9), "
    f"{_num('[[CostInBillingCurrency]]')})",
    "ContractedCost": f"COALESCE(ROUND({_num('[[UnitPrice]]')} * {_num('[[Quantity]]')}, 9), "
    f"{_num('[[CostInBillingCurrency]]')})",
    "BillingAccountId": _string("[[BillingAccountId]]"),
    "BillingAccountName": "[[BillingAccountName]]",
    "BillingCurrency": "[[BillingCurrencyCode]]",
    "BillingPeriodStart": f"TIMESTAMP({_azure_date('BillingPeriodStartDate')})",
    # FOCUS periods end exclusive; the export's end date is the period's last day.
    "BillingPeriodEnd": f"TIMESTAMP(DATE_ADD({_azure_date('BillingPeriodEndDate')}, "
    "INTERVAL 1 DAY))",
    "ChargeCategory": _case(
        "[[ChargeType]]",
        {
            "Usage": ["Usage", "UnusedReservation", "UnusedSavingsPlan"],
            "Purchase": ["Purchase"],
            "Tax": ["Tax"],
            "Credit": ["Credit", "Refund"],
        },
        "Adjustment",
    ),
    "ChargeClass": "IF([[ChargeType]] = 'Refund', 'Correction', CAST(NULL AS STRING))",
    "ChargeDescription": "COALESCE([[ProductName]], [[MeterName]])",
    "ChargeFrequency": _case(
        "[[Frequency]]", {"One-Time": ["OneTime"], "Recurring": ["Recurring"]}, "Usage-Based"
    ),
    "ChargePeriodStart": f"TIMESTAMP({_azure_date('Date')})",
    "ChargePeriodEnd": f"TIMESTAMP(DATE_ADD({_azure_date('Date')}, INTERVAL 1 DAY))",
    "ConsumedQuantity": _num("[[Quantity]]"),
    "ConsumedUnit": "[[UnitOfMeasure]]",
    "PricingQuantity": _num("[[Quantity]]"),
    "PricingUnit": "[[UnitOfMeasure]]",
    "ProviderName": "'Microsoft'",
    "PublisherName": "COALESCE([[PublisherName]], 'Microsoft')",
    "InvoiceIssuerName": "'Microsoft'",
    "RegionId": "LOWER(REPLACE([[ResourceLocation]], ' ', ''))",
    "RegionName": "COALESCE([[MeterRegion]], [[ResourceLocation]])",
    "ResourceId": "[[ResourceId]]",
    "ResourceName": "[[ResourceName]]",
    "ResourceType": "[[ConsumedService]]",
    "ServiceCategory": _case("[[MeterCategory]]", AZURE_SERVICE_CATEGORIES, "Other"),
    "ServiceName": "[[MeterCategory]]",
    "SkuId": "[[MeterId]]",
    "SkuPriceId": "[[PartNumber]]",
    "SubAccountId": "[[SubscriptionId]]",
    "SubAccountName": "[[SubscriptionName]]",
    # The EA export writes tags as JSON members without the enclosing braces.
    "Tags": "COALESCE(SAFE.PARSE_JSON(IF(STARTS_WITH(TRIM([[Tags]]), '{'), [[Tags]], "
    "CONCAT('{', [[Tags]], '}'))), PARSE_JSON('{}'))",
    "x_ChargeType": "[[ChargeType]]",
    "x_PricingModel": "[[PricingModel]]",
    "x_ResourceGroup": "[[ResourceGroup]]",
    "x_MeterSubCategory": "[[MeterSubCategory]]",
    "x_MeterName": "[[MeterName]]",
}


# -- GCP standard billing export ----------------------------------------------------------

GCP_SERVICE_CATEGORIES = {
    "Compute": [
        "Compute Engine",
        "Kubernetes Engine",
        "Cloud Run",
        "Cloud Run Functions",
        "Cloud Functions",
        "App Engine",
        "Batch",
    ],
    "Storage": ["Cloud Storage", "Filestore", "Backup and DR Service"],
    "Databases": ["Cloud SQL", "Cloud Spanner", "Cloud Firestore", "Cloud Bigtable", "Memorystore"],
    "Analytics": ["BigQuery", "Dataflow", "Dataproc", "Looker Studio", "Data Catalog"],
    "Integration": ["Cloud Pub/Sub", "Eventarc", "Cloud Tasks", "Cloud Scheduler", "Workflows"],
    "Networking": ["Networking", "Cloud DNS", "Cloud CDN", "Cloud Load Balancing", "Cloud NAT"],
    "AI and Machine Learning": ["Vertex AI", "Cloud Vision API", "Gemini API", "Cloud Translation"],
    "Management and Governance": ["Cloud Logging", "Cloud Monitoring", "Cloud Trace"],
    "Security": ["Secret Manager", "Cloud Key Management Service (KMS)", "Cloud Armor"],
    "Identity": ["Identity Platform", "Cloud Identity"],
    "Developer Tools": ["Cloud Build", "Artifact Registry", "Cloud Source Repositories"],
    "Business Applications": ["Google Workspace", "Looker"],
}

_GCP_PERIOD_START = "PARSE_DATE('%Y%m%d', CONCAT(invoice.month, '01'))"
GCP_COLUMNS = {
    "BilledCost": _num("cost"),
    "EffectiveCost": _num("cost"),
    "ListCost": _num("cost"),
    "ContractedCost": _num("cost"),
    "BillingAccountId": "billing_account_id",
    "BillingAccountName": "CAST(NULL AS STRING)",
    "BillingCurrency": "currency",
    "BillingPeriodStart": f"TIMESTAMP({_GCP_PERIOD_START})",
    "BillingPeriodEnd": f"TIMESTAMP(DATE_ADD({_GCP_PERIOD_START}, INTERVAL 1 MONTH))",
    "ChargeCategory": _case("cost_type", {"Usage": ["regular"], "Tax": ["tax"]}, "Adjustment"),
    "ChargeClass": "IF(cost_type = 'adjustment', 'Correction', CAST(NULL AS STRING))",
    "ChargeDescription": "sku.description",
    "ChargeFrequency": "IF(cost_type = 'regular', 'Usage-Based', 'One-Time')",
    "ChargePeriodStart": "usage_start_time",
    "ChargePeriodEnd": "usage_end_time",
    "ConsumedQuantity": f"IF(cost_type = 'regular', {_num('usage.amount')}, NULL)",
    "ConsumedUnit": "IF(cost_type = 'regular', usage.unit, CAST(NULL AS STRING))",
    "PricingQuantity": _num("usage.amount_in_pricing_units"),
    "PricingUnit": "usage.pricing_unit",
    "ProviderName": "'Google Cloud'",
    "PublisherName": "'Google Cloud'",
    "InvoiceIssuerName": "'Google Cloud'",
    "RegionId": "location.region",
    "RegionName": "location.region",
    "ResourceId": "CAST(NULL AS STRING)",
    "ResourceName": "CAST(NULL AS STRING)",
    "ResourceType": "CAST(NULL AS STRING)",
    "ServiceCategory": _case("service.description", GCP_SERVICE_CATEGORIES, "Other"),
    "ServiceName": "service.description",
    "SkuId": "sku.id",
    "SkuPriceId": "sku.id",
    "SubAccountId": "project.id",
    "SubAccountName": "project.name",
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
    "ListCost": "PARSE_NUMERIC('0')",
    "ContractedCost": "PARSE_NUMERIC('0')",
    "ChargeCategory": "'Credit'",
    "ChargeClass": "CAST(NULL AS STRING)",
    "ChargeDescription": "credit.name",
    "ChargeFrequency": "'Usage-Based'",
    "ConsumedQuantity": "CAST(NULL AS NUMERIC)",
    "ConsumedUnit": "CAST(NULL AS STRING)",
    "PricingQuantity": "CAST(NULL AS NUMERIC)",
    "PricingUnit": "CAST(NULL AS STRING)",
    "x_CreditName": "credit.name",
    "x_CreditType": "credit.type",
}

_MARKER = re.compile(r"\[\[([A-Za-z_][A-Za-z0-9_]*)\]\]")


def _resolve(expr: str, available: frozenset[str] | None) -> str:
    """Raw-column markers become the column, or a typed NULL when the export lacks it."""

    def column(match: re.Match) -> str:
        name = match.group(1)
        if available is None or name in available:
            return name
        return "CAST(NULL AS STRING)"

    return _MARKER.sub(column, expr)


def _select_list(columns: Mapping[str, str], available: frozenset[str] | None) -> str:
    return ",\n  ".join(f"{_resolve(expr, available)} AS {name}" for name, expr in columns.items())


def focus_sql(provider: str, *, source: str, destination: str, source_columns=None) -> str:
    """``CREATE OR REPLACE TABLE destination AS SELECT <FOCUS columns> FROM source``.

    ``source`` and ``destination`` are ``project.dataset.table`` and are checked as
    identifiers. ``source_columns`` (the raw table's column names) lets a CUR or Azure
    export that lacks optional columns normalize with NULLs; required ones must be there.
    """
    available = frozenset(source_columns) if source_columns is not None else None
    identifiers = {"source": source, "destination": destination}
    if provider == "aws":
        _require(provider, AWS_REQUIRED, available)
        columns = dict(AWS_COLUMNS, Tags=_aws_tags(available or ()))
        body = f"SELECT\n  {_select_list(columns, available)}\nFROM `{{source}}`"
    elif provider == "azure":
        _require(provider, AZURE_REQUIRED, available)
        body = f"SELECT\n  {_select_list(AZURE_COLUMNS, available)}\nFROM `{{source}}`"
    elif provider == "gcp":
        credits = dict(GCP_COLUMNS, **GCP_CREDIT_OVERRIDES)
        body = (
            f"SELECT\n  {_select_list(GCP_COLUMNS, None)}\nFROM `{{source}}`\n"
            f"UNION ALL\nSELECT\n  {_select_list(credits, None)}\n"
            "FROM `{source}` CROSS JOIN UNNEST(credits) AS credit"
        )
    else:
        raise ValueError(f"unknown FOCUS provider {provider!r} (expected {', '.join(PROVIDERS)})")
    return sql_render(f"CREATE OR REPLACE TABLE `{{destination}}` AS\n{body}", identifiers)


def _require(provider: str, required: Iterable[str], available: frozenset[str] | None) -> None:
    if available is None:
        return
    missing = [c for c in required if c not in available]
    if missing:
        raise FocusSourceError(f"{provider} source lacks required columns: {', '.join(missing)}")


def source_total_sql(provider: str, *, source: str) -> str:
    """A query returning ``total``: the source's billed cost, computed from the raw export."""
    if provider == "aws":
        expr = _num("lineItem_UnblendedCost")
    elif provider == "azure":
        expr = _num("CostInBillingCurrency")
    elif provider == "gcp":
        expr = (
            f"{_num('cost')} + IFNULL((SELECT SUM({_num('c.amount')}) "
            "FROM UNNEST(credits) AS c), 0)"
        )
    else:
        raise ValueError(f"unknown FOCUS provider {provider!r} (expected {', '.join(PROVIDERS)})")
    return sql_render(
        f"SELECT SUM(row_total) AS total FROM (SELECT {expr} AS row_total FROM `{{source}}`)",
        {"source": source},
    )


def allowed_values_sql(table: str) -> str:
    """A query counting, per closed-set column, the rows whose value lies outside its set."""
    counts = []
    for column, values in sorted(ALLOWED_VALUES.items()):
        listed = ", ".join(f"'{v}'" for v in sorted(values))
        null_ok = column in NULLABLE_ALLOWED_VALUES
        condition = (
            f"{column} NOT IN ({listed})"
            if null_ok
            else (f"{column} IS NULL OR {column} NOT IN ({listed})")
        )
        counts.append(f"COUNTIF({condition}) AS {column}")
    return sql_render(f"SELECT {', '.join(counts)} FROM `{{table}}`", {"table": table})
