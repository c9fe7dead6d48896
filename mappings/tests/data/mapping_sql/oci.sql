-- configs/mappings/oci.yml, compiled for a source with the columns of oci_cost_report_sample.csv.
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
-- @map_10 = "Oracle"
-- @map_11 = "Standard"
-- @map_12 = "Oracle Cloud Infrastructure"
-- @map_13 = "COMPUTE"
-- @map_14 = "Compute"
-- @map_15 = "BLOCK_STORAGE"
-- @map_16 = "Storage"
-- @map_17 = "OBJECT_STORAGE"
-- @map_18 = "FILE_STORAGE"
-- @map_19 = "NETWORK"
-- @map_20 = "Networking"
-- @map_21 = "LOAD_BALANCER"
-- @map_22 = "DATABASE"
-- @map_23 = "Databases"
-- @map_24 = "MYSQL"
-- @map_25 = "NOSQL"
-- @map_26 = "OKE"
-- @map_27 = "FUNCTIONS"
-- @map_28 = "LOGGING"
-- @map_29 = "Management and Governance"
-- @map_30 = "MONITORING"
-- @map_31 = "AI_SERVICES"
-- @map_32 = "AI and Machine Learning"
-- @map_33 = "Other"
-- @map_34 = "Virtual Machines"
-- @map_35 = "Block Storage"
-- @map_36 = "Object Storage"
-- @map_37 = "File Storage"
-- @map_38 = "Network Infrastructure"
-- @map_39 = "Application Networking"
-- @map_40 = "Relational Databases"
-- @map_41 = "NoSQL Databases"
-- @map_42 = "Containers"
-- @map_43 = "Serverless Compute"
-- @map_44 = "Observability"
-- @map_45 = "Other (AI and Machine Learning)"
-- @map_46 = "Other (Other)"
-- @map_47 = "Finance_CostCenter"
-- @map_48 = "Oracle_Tags_CreatedBy"
INSERT INTO `convergence-test.tenant_acme.cost_focus` (AvailabilityZone, BilledCost, BillingAccountId, BillingAccountName, BillingCurrency, BillingPeriodEnd, BillingPeriodStart, CapacityReservationId, CapacityReservationStatus, ChargeCategory, ChargeClass, ChargeDescription, ChargeFrequency, ChargePeriodEnd, ChargePeriodStart, CommitmentDiscountCategory, CommitmentDiscountId, CommitmentDiscountName, CommitmentDiscountQuantity, CommitmentDiscountStatus, CommitmentDiscountType, CommitmentDiscountUnit, ConsumedQuantity, ConsumedUnit, ContractedCost, ContractedUnitPrice, EffectiveCost, InvoiceId, InvoiceIssuerName, ListCost, ListUnitPrice, PricingCategory, PricingCurrency, PricingCurrencyContractedUnitPrice, PricingCurrencyEffectiveCost, PricingCurrencyListUnitPrice, PricingQuantity, PricingUnit, ProviderName, PublisherName, RegionId, RegionName, ResourceId, ResourceName, ResourceType, ServiceCategory, ServiceName, ServiceSubcategory, SkuId, SkuMeter, SkuPriceDetails, SkuPriceId, SubAccountId, SubAccountName, Tags, x_BackReferenceNo, x_OverageFlag, x_ReferenceNo)
SELECT
  NULLIF(`product_availabilityDomain`, '') AS AvailabilityZone,
  SAFE_CAST(TRIM(NULLIF(`cost_myCost`, '')) AS NUMERIC) AS BilledCost,
  COALESCE(NULLIF(`cost_subscriptionId`, ''), NULLIF(`lineItem_tenantId`, '')) AS BillingAccountId,
  CAST(NULL AS STRING) AS BillingAccountName,
  NULLIF(`cost_currencyCode`, '') AS BillingCurrency,
  TIMESTAMP(DATE_ADD(DATE_TRUNC(DATE(SAFE_CAST(REGEXP_REPLACE(REGEXP_REPLACE(REGEXP_REPLACE(TRIM(NULLIF(`lineItem_intervalUsageStart`, '')), @map_0, @map_1), @map_2, @map_3), @map_4, @map_5) AS TIMESTAMP)), MONTH), INTERVAL 1 MONTH)) AS BillingPeriodEnd,
  TIMESTAMP_TRUNC(SAFE_CAST(REGEXP_REPLACE(REGEXP_REPLACE(REGEXP_REPLACE(TRIM(NULLIF(`lineItem_intervalUsageStart`, '')), @map_0, @map_1), @map_2, @map_3), @map_4, @map_5) AS TIMESTAMP), MONTH) AS BillingPeriodStart,
  CAST(NULL AS STRING) AS CapacityReservationId,
  CAST(NULL AS STRING) AS CapacityReservationStatus,
  @map_6 AS ChargeCategory,
  CASE LOWER(NULLIF(`lineItem_isCorrection`, '')) WHEN @map_7 THEN @map_8 ELSE CAST(NULL AS STRING) END AS ChargeClass,
  NULLIF(`product_Description`, '') AS ChargeDescription,
  @map_9 AS ChargeFrequency,
  SAFE_CAST(REGEXP_REPLACE(REGEXP_REPLACE(REGEXP_REPLACE(TRIM(NULLIF(`lineItem_intervalUsageEnd`, '')), @map_0, @map_1), @map_2, @map_3), @map_4, @map_5) AS TIMESTAMP) AS ChargePeriodEnd,
  SAFE_CAST(REGEXP_REPLACE(REGEXP_REPLACE(REGEXP_REPLACE(TRIM(NULLIF(`lineItem_intervalUsageStart`, '')), @map_0, @map_1), @map_2, @map_3), @map_4, @map_5) AS TIMESTAMP) AS ChargePeriodStart,
  CAST(NULL AS STRING) AS CommitmentDiscountCategory,
  CAST(NULL AS STRING) AS CommitmentDiscountId,
  CAST(NULL AS STRING) AS CommitmentDiscountName,
  CAST(NULL AS FLOAT64) AS CommitmentDiscountQuantity,
  CAST(NULL AS STRING) AS CommitmentDiscountStatus,
  CAST(NULL AS STRING) AS CommitmentDiscountType,
  CAST(NULL AS STRING) AS CommitmentDiscountUnit,
  CAST(SAFE_CAST(TRIM(NULLIF(`usage_billedQuantity`, '')) AS NUMERIC) AS FLOAT64) AS ConsumedQuantity,
  NULLIF(`cost_billingUnitReadable`, '') AS ConsumedUnit,
  CAST(SAFE_CAST(TRIM(NULLIF(`cost_myCost`, '')) AS NUMERIC) AS FLOAT64) AS ContractedCost,
  CAST(SAFE_CAST(TRIM(NULLIF(`cost_unitPrice`, '')) AS NUMERIC) AS FLOAT64) AS ContractedUnitPrice,
  SAFE_CAST(TRIM(NULLIF(`cost_myCost`, '')) AS NUMERIC) AS EffectiveCost,
  CAST(NULL AS STRING) AS InvoiceId,
  @map_10 AS InvoiceIssuerName,
  CAST(SAFE_CAST(TRIM(NULLIF(`cost_myCost`, '')) AS NUMERIC) AS FLOAT64) AS ListCost,
  CAST(NULL AS FLOAT64) AS ListUnitPrice,
  @map_11 AS PricingCategory,
  NULLIF(`cost_currencyCode`, '') AS PricingCurrency,
  CAST(SAFE_CAST(TRIM(NULLIF(`cost_unitPrice`, '')) AS NUMERIC) AS FLOAT64) AS PricingCurrencyContractedUnitPrice,
  SAFE_CAST(TRIM(NULLIF(`cost_myCost`, '')) AS NUMERIC) AS PricingCurrencyEffectiveCost,
  CAST(NULL AS FLOAT64) AS PricingCurrencyListUnitPrice,
  CAST(SAFE_CAST(TRIM(NULLIF(`usage_billedQuantity`, '')) AS NUMERIC) AS FLOAT64) AS PricingQuantity,
  NULLIF(`cost_billingUnitReadable`, '') AS PricingUnit,
  @map_12 AS ProviderName,
  @map_10 AS PublisherName,
  NULLIF(`product_region`, '') AS RegionId,
  NULLIF(`product_region`, '') AS RegionName,
  NULLIF(`product_resourceId`, '') AS ResourceId,
  CAST(NULL AS STRING) AS ResourceName,
  NULLIF(`product_resource`, '') AS ResourceType,
  CASE NULLIF(`product_service`, '') WHEN @map_13 THEN @map_14 WHEN @map_15 THEN @map_16 WHEN @map_17 THEN @map_16 WHEN @map_18 THEN @map_16 WHEN @map_19 THEN @map_20 WHEN @map_21 THEN @map_20 WHEN @map_22 THEN @map_23 WHEN @map_24 THEN @map_23 WHEN @map_25 THEN @map_23 WHEN @map_26 THEN @map_14 WHEN @map_27 THEN @map_14 WHEN @map_28 THEN @map_29 WHEN @map_30 THEN @map_29 WHEN @map_31 THEN @map_32 ELSE @map_33 END AS ServiceCategory,
  NULLIF(`product_service`, '') AS ServiceName,
  CASE NULLIF(`product_service`, '') WHEN @map_13 THEN @map_34 WHEN @map_15 THEN @map_35 WHEN @map_17 THEN @map_36 WHEN @map_18 THEN @map_37 WHEN @map_19 THEN @map_38 WHEN @map_21 THEN @map_39 WHEN @map_22 THEN @map_40 WHEN @map_24 THEN @map_40 WHEN @map_25 THEN @map_41 WHEN @map_26 THEN @map_42 WHEN @map_27 THEN @map_43 WHEN @map_28 THEN @map_44 WHEN @map_30 THEN @map_44 WHEN @map_31 THEN @map_45 ELSE @map_46 END AS ServiceSubcategory,
  NULLIF(`cost_productSku`, '') AS SkuId,
  NULLIF(`cost_skuUnitDescription`, '') AS SkuMeter,
  CAST(NULL AS JSON) AS SkuPriceDetails,
  NULLIF(`cost_productSku`, '') AS SkuPriceId,
  NULLIF(`product_compartmentId`, '') AS SubAccountId,
  NULLIF(`product_compartmentName`, '') AS SubAccountName,
  PARSE_JSON(CONCAT('{', ARRAY_TO_STRING([IF(NULLIF(`tags_Finance_CostCenter`, '') IS NULL, NULL, CONCAT(TO_JSON_STRING(@map_47), ':', TO_JSON_STRING(`tags_Finance_CostCenter`))), IF(NULLIF(`tags_Oracle_Tags_CreatedBy`, '') IS NULL, NULL, CONCAT(TO_JSON_STRING(@map_48), ':', TO_JSON_STRING(`tags_Oracle_Tags_CreatedBy`)))], ','), '}')) AS Tags,
  NULLIF(`lineItem_backreferenceNo`, '') AS x_BackReferenceNo,
  NULLIF(`cost_overageFlag`, '') AS x_OverageFlag,
  NULLIF(`lineItem_referenceNo`, '') AS x_ReferenceNo
FROM `convergence-test.tenant_acme.mapped_raw`
