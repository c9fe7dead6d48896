-- mappings/library/oci.yml, compiled for a source with the columns of oci_cost_report_sample.csv.
-- Query parameters:
-- @map_0 = "^(\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2})([^:\\d]|$)"
-- @map_1 = "\\1:00\\2"
-- @map_2 = "([T ]\\d{2}:\\d{2}:\\d{2}(?:\\.\\d+)?\\s*[+-]\\d{2})(\\d{2})$"
-- @map_3 = "\\1:\\2"
-- @map_4 = "([T ]\\d{2}:\\d{2}:\\d{2}(?:\\.\\d+)?\\s*[+-]\\d{2})$"
-- @map_5 = "\\1:00"
-- @map_6 = "Usage"
-- @map_7 = "true"
-- @map_8 = "Correction"
-- @map_9 = "Usage-Based"
-- @map_10 = "OCPU HOURS"
-- @map_11 = "OCPU-Hours"
-- @map_12 = "ECPU HOURS"
-- @map_13 = "ECPU-Hours"
-- @map_14 = "GB HOURS"
-- @map_15 = "GB-Hours"
-- @map_16 = "GB_MS MONTH"
-- @map_17 = "GB-Months"
-- @map_18 = "GB"
-- @map_19 = "HOURS"
-- @map_20 = "Hours"
-- @map_21 = "REQUESTS"
-- @map_22 = "Requests"
-- @map_23 = "Oracle"
-- @map_24 = "Standard"
-- @map_25 = "COMPUTE"
-- @map_26 = "Instance"
-- @map_27 = "BLOCK_STORAGE"
-- @map_28 = "Volume"
-- @map_29 = "OBJECT_STORAGE"
-- @map_30 = "Bucket"
-- @map_31 = "FILE_STORAGE"
-- @map_32 = "File System"
-- @map_33 = "NETWORK"
-- @map_34 = "Network Resource"
-- @map_35 = "LOAD_BALANCER"
-- @map_36 = "Load Balancer"
-- @map_37 = "DATABASE"
-- @map_38 = "Database"
-- @map_39 = "MYSQL"
-- @map_40 = "NOSQL"
-- @map_41 = "Table"
-- @map_42 = "OKE"
-- @map_43 = "Cluster"
-- @map_44 = "FUNCTIONS"
-- @map_45 = "Function"
-- @map_46 = "Resource"
-- @map_47 = "Compute"
-- @map_48 = "Storage"
-- @map_49 = "Networking"
-- @map_50 = "Databases"
-- @map_51 = "LOGGING"
-- @map_52 = "Management and Governance"
-- @map_53 = "MONITORING"
-- @map_54 = "AI_SERVICES"
-- @map_55 = "AI and Machine Learning"
-- @map_56 = "Other"
-- @map_57 = "Virtual Machines"
-- @map_58 = "Block Storage"
-- @map_59 = "Object Storage"
-- @map_60 = "File Storage"
-- @map_61 = "Network Infrastructure"
-- @map_62 = "Application Networking"
-- @map_63 = "Relational Databases"
-- @map_64 = "NoSQL Databases"
-- @map_65 = "Containers"
-- @map_66 = "Serverless Compute"
-- @map_67 = "Observability"
-- @map_68 = "Other (AI and Machine Learning)"
-- @map_69 = "Other (Other)"
-- @map_70 = "Finance_CostCenter"
-- @map_71 = "Oracle_Tags_CreatedBy"
INSERT INTO `convergence-test.tenant_acme.cost_focus` (AvailabilityZone, BilledCost, BillingAccountId, BillingAccountName, BillingAccountType, BillingCurrency, BillingPeriodEnd, BillingPeriodStart, CapacityReservationId, CapacityReservationStatus, ChargeCategory, ChargeClass, ChargeDescription, ChargeFrequency, ChargePeriodEnd, ChargePeriodStart, CommitmentDiscountCategory, CommitmentDiscountId, CommitmentDiscountName, CommitmentDiscountQuantity, CommitmentDiscountStatus, CommitmentDiscountType, CommitmentDiscountUnit, ConsumedQuantity, ConsumedUnit, ContractedCost, ContractedUnitPrice, EffectiveCost, InvoiceId, InvoiceIssuerName, ListCost, ListUnitPrice, PricingCategory, PricingCurrency, PricingCurrencyContractedUnitPrice, PricingCurrencyEffectiveCost, PricingCurrencyListUnitPrice, PricingQuantity, PricingUnit, ProviderName, PublisherName, RegionId, RegionName, ResourceId, ResourceName, ResourceType, ServiceCategory, ServiceName, ServiceSubcategory, SkuId, SkuMeter, SkuPriceDetails, SkuPriceId, SubAccountId, SubAccountName, SubAccountType, Tags, x_BackReferenceNo, x_OverageFlag, x_ReferenceNo)
SELECT
  NULLIF(`product_availabilityDomain`, '') AS AvailabilityZone,
  SAFE_CAST(TRIM(NULLIF(`cost_myCost`, '')) AS NUMERIC) AS BilledCost,
  COALESCE(NULLIF(`cost_subscriptionId`, ''), NULLIF(`lineItem_tenantId`, '')) AS BillingAccountId,
  CAST(NULL AS STRING) AS BillingAccountName,
  CAST(NULL AS STRING) AS BillingAccountType,
  NULLIF(`cost_currencyCode`, '') AS BillingCurrency,
  TIMESTAMP(DATE_ADD(DATE_TRUNC(DATE(COALESCE(SAFE_CAST(TRIM(NULLIF(`lineItem_intervalUsageStart`, '')) AS TIMESTAMP), SAFE_CAST(REGEXP_REPLACE(REGEXP_REPLACE(REGEXP_REPLACE(TRIM(NULLIF(`lineItem_intervalUsageStart`, '')), @map_0, @map_1), @map_2, @map_3), @map_4, @map_5) AS TIMESTAMP))), MONTH), INTERVAL 1 MONTH)) AS BillingPeriodEnd,
  TIMESTAMP_TRUNC(COALESCE(SAFE_CAST(TRIM(NULLIF(`lineItem_intervalUsageStart`, '')) AS TIMESTAMP), SAFE_CAST(REGEXP_REPLACE(REGEXP_REPLACE(REGEXP_REPLACE(TRIM(NULLIF(`lineItem_intervalUsageStart`, '')), @map_0, @map_1), @map_2, @map_3), @map_4, @map_5) AS TIMESTAMP)), MONTH) AS BillingPeriodStart,
  CAST(NULL AS STRING) AS CapacityReservationId,
  CAST(NULL AS STRING) AS CapacityReservationStatus,
  @map_6 AS ChargeCategory,
  CASE LOWER(NULLIF(`lineItem_isCorrection`, '')) WHEN @map_7 THEN @map_8 ELSE CAST(NULL AS STRING) END AS ChargeClass,
  NULLIF(`product_Description`, '') AS ChargeDescription,
  @map_9 AS ChargeFrequency,
  COALESCE(SAFE_CAST(TRIM(NULLIF(`lineItem_intervalUsageEnd`, '')) AS TIMESTAMP), SAFE_CAST(REGEXP_REPLACE(REGEXP_REPLACE(REGEXP_REPLACE(TRIM(NULLIF(`lineItem_intervalUsageEnd`, '')), @map_0, @map_1), @map_2, @map_3), @map_4, @map_5) AS TIMESTAMP)) AS ChargePeriodEnd,
  COALESCE(SAFE_CAST(TRIM(NULLIF(`lineItem_intervalUsageStart`, '')) AS TIMESTAMP), SAFE_CAST(REGEXP_REPLACE(REGEXP_REPLACE(REGEXP_REPLACE(TRIM(NULLIF(`lineItem_intervalUsageStart`, '')), @map_0, @map_1), @map_2, @map_3), @map_4, @map_5) AS TIMESTAMP)) AS ChargePeriodStart,
  CAST(NULL AS STRING) AS CommitmentDiscountCategory,
  CAST(NULL AS STRING) AS CommitmentDiscountId,
  CAST(NULL AS STRING) AS CommitmentDiscountName,
  CAST(NULL AS FLOAT64) AS CommitmentDiscountQuantity,
  CAST(NULL AS STRING) AS CommitmentDiscountStatus,
  CAST(NULL AS STRING) AS CommitmentDiscountType,
  CAST(NULL AS STRING) AS CommitmentDiscountUnit,
  CAST(SAFE_CAST(TRIM(NULLIF(`usage_billedQuantity`, '')) AS NUMERIC) AS FLOAT64) AS ConsumedQuantity,
  COALESCE(CASE NULLIF(`cost_billingUnitReadable`, '') WHEN @map_10 THEN @map_11 WHEN @map_12 THEN @map_13 WHEN @map_14 THEN @map_15 WHEN @map_16 THEN @map_17 WHEN @map_18 THEN @map_18 WHEN @map_19 THEN @map_20 WHEN @map_21 THEN @map_22 ELSE NULL END, NULLIF(`cost_billingUnitReadable`, '')) AS ConsumedUnit,
  CAST(SAFE_CAST(TRIM(NULLIF(`cost_myCost`, '')) AS NUMERIC) AS FLOAT64) AS ContractedCost,
  CAST(SAFE_CAST(TRIM(NULLIF(`cost_unitPrice`, '')) AS NUMERIC) AS FLOAT64) AS ContractedUnitPrice,
  SAFE_CAST(TRIM(NULLIF(`cost_myCost`, '')) AS NUMERIC) AS EffectiveCost,
  CAST(NULL AS STRING) AS InvoiceId,
  @map_23 AS InvoiceIssuerName,
  CAST(SAFE_CAST(TRIM(NULLIF(`cost_myCost`, '')) AS NUMERIC) AS FLOAT64) AS ListCost,
  CAST(NULL AS FLOAT64) AS ListUnitPrice,
  @map_24 AS PricingCategory,
  NULLIF(`cost_currencyCode`, '') AS PricingCurrency,
  CAST(SAFE_CAST(TRIM(NULLIF(`cost_unitPrice`, '')) AS NUMERIC) AS FLOAT64) AS PricingCurrencyContractedUnitPrice,
  SAFE_CAST(TRIM(NULLIF(`cost_myCost`, '')) AS NUMERIC) AS PricingCurrencyEffectiveCost,
  CAST(NULL AS FLOAT64) AS PricingCurrencyListUnitPrice,
  CAST(SAFE_CAST(TRIM(NULLIF(`usage_billedQuantity`, '')) AS NUMERIC) AS FLOAT64) AS PricingQuantity,
  COALESCE(CASE NULLIF(`cost_billingUnitReadable`, '') WHEN @map_10 THEN @map_11 WHEN @map_12 THEN @map_13 WHEN @map_14 THEN @map_15 WHEN @map_16 THEN @map_17 WHEN @map_18 THEN @map_18 WHEN @map_19 THEN @map_20 WHEN @map_21 THEN @map_22 ELSE NULL END, NULLIF(`cost_billingUnitReadable`, '')) AS PricingUnit,
  @map_23 AS ProviderName,
  @map_23 AS PublisherName,
  NULLIF(`product_region`, '') AS RegionId,
  NULLIF(`product_region`, '') AS RegionName,
  NULLIF(`product_resourceId`, '') AS ResourceId,
  CAST(NULL AS STRING) AS ResourceName,
  IF(NULLIF(`product_resourceId`, '') IS NULL, NULL, COALESCE(NULLIF(`product_resource`, ''), CASE NULLIF(`product_service`, '') WHEN @map_25 THEN @map_26 WHEN @map_27 THEN @map_28 WHEN @map_29 THEN @map_30 WHEN @map_31 THEN @map_32 WHEN @map_33 THEN @map_34 WHEN @map_35 THEN @map_36 WHEN @map_37 THEN @map_38 WHEN @map_39 THEN @map_38 WHEN @map_40 THEN @map_41 WHEN @map_42 THEN @map_43 WHEN @map_44 THEN @map_45 ELSE @map_46 END)) AS ResourceType,
  CASE NULLIF(`product_service`, '') WHEN @map_25 THEN @map_47 WHEN @map_27 THEN @map_48 WHEN @map_29 THEN @map_48 WHEN @map_31 THEN @map_48 WHEN @map_33 THEN @map_49 WHEN @map_35 THEN @map_49 WHEN @map_37 THEN @map_50 WHEN @map_39 THEN @map_50 WHEN @map_40 THEN @map_50 WHEN @map_42 THEN @map_47 WHEN @map_44 THEN @map_47 WHEN @map_51 THEN @map_52 WHEN @map_53 THEN @map_52 WHEN @map_54 THEN @map_55 ELSE @map_56 END AS ServiceCategory,
  NULLIF(`product_service`, '') AS ServiceName,
  CASE NULLIF(`product_service`, '') WHEN @map_25 THEN @map_57 WHEN @map_27 THEN @map_58 WHEN @map_29 THEN @map_59 WHEN @map_31 THEN @map_60 WHEN @map_33 THEN @map_61 WHEN @map_35 THEN @map_62 WHEN @map_37 THEN @map_63 WHEN @map_39 THEN @map_63 WHEN @map_40 THEN @map_64 WHEN @map_42 THEN @map_65 WHEN @map_44 THEN @map_66 WHEN @map_51 THEN @map_67 WHEN @map_53 THEN @map_67 WHEN @map_54 THEN @map_68 ELSE @map_69 END AS ServiceSubcategory,
  NULLIF(`cost_productSku`, '') AS SkuId,
  NULLIF(`cost_skuUnitDescription`, '') AS SkuMeter,
  CAST(NULL AS JSON) AS SkuPriceDetails,
  NULLIF(`cost_productSku`, '') AS SkuPriceId,
  NULLIF(`product_compartmentId`, '') AS SubAccountId,
  NULLIF(`product_compartmentName`, '') AS SubAccountName,
  CAST(NULL AS STRING) AS SubAccountType,
  PARSE_JSON(CONCAT('{', ARRAY_TO_STRING([IF(NULLIF(`tags_Finance_CostCenter`, '') IS NULL, NULL, CONCAT(TO_JSON_STRING(@map_70), ':', TO_JSON_STRING(`tags_Finance_CostCenter`))), IF(NULLIF(`tags_Oracle_Tags_CreatedBy`, '') IS NULL, NULL, CONCAT(TO_JSON_STRING(@map_71), ':', TO_JSON_STRING(`tags_Oracle_Tags_CreatedBy`)))], ','), '}')) AS Tags,
  NULLIF(`lineItem_backreferenceNo`, '') AS x_BackReferenceNo,
  NULLIF(`cost_overageFlag`, '') AS x_OverageFlag,
  NULLIF(`lineItem_referenceNo`, '') AS x_ReferenceNo
FROM `convergence-test.tenant_acme.mapped_raw`
