-- mappings/library/focus_csv.yml, compiled for a source with the columns of focus_csv_sample.csv.
-- Query parameters:
-- @map_0 = "^(\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2})([^:\\d]|$)"
-- @map_1 = "\\1:00\\2"
-- @map_2 = "([T ]\\d{2}:\\d{2}:\\d{2}(?:\\.\\d+)?\\s*[+-]\\d{2})(\\d{2})$"
-- @map_3 = "\\1:\\2"
-- @map_4 = "([T ]\\d{2}:\\d{2}:\\d{2}(?:\\.\\d+)?\\s*[+-]\\d{2})$"
-- @map_5 = "\\1:00"
-- @map_6 = "Usage-Based"
-- @map_7 = "AI and Machine Learning"
-- @map_8 = "Other (AI and Machine Learning)"
-- @map_9 = "Analytics"
-- @map_10 = "Other (Analytics)"
-- @map_11 = "Business Applications"
-- @map_12 = "Other (Business Applications)"
-- @map_13 = "Compute"
-- @map_14 = "Other (Compute)"
-- @map_15 = "Databases"
-- @map_16 = "Other (Databases)"
-- @map_17 = "Developer Tools"
-- @map_18 = "Other (Developer Tools)"
-- @map_19 = "Identity"
-- @map_20 = "Other (Identity)"
-- @map_21 = "Integration"
-- @map_22 = "Other (Integration)"
-- @map_23 = "Internet of Things"
-- @map_24 = "Other (Internet of Things)"
-- @map_25 = "Management and Governance"
-- @map_26 = "Other (Management and Governance)"
-- @map_27 = "Media"
-- @map_28 = "Other (Media)"
-- @map_29 = "Migration"
-- @map_30 = "Other (Migration)"
-- @map_31 = "Mobile"
-- @map_32 = "Other (Mobile)"
-- @map_33 = "Multicloud"
-- @map_34 = "Other (Multicloud)"
-- @map_35 = "Networking"
-- @map_36 = "Other (Networking)"
-- @map_37 = "Security"
-- @map_38 = "Other (Security)"
-- @map_39 = "Storage"
-- @map_40 = "Other (Storage)"
-- @map_41 = "Web"
-- @map_42 = "Other (Web)"
-- @map_43 = "Other (Other)"
INSERT INTO `convergence-test.tenant_acme.cost_focus` (AvailabilityZone, BilledCost, BillingAccountId, BillingAccountName, BillingAccountType, BillingCurrency, BillingPeriodEnd, BillingPeriodStart, CapacityReservationId, CapacityReservationStatus, ChargeCategory, ChargeClass, ChargeDescription, ChargeFrequency, ChargePeriodEnd, ChargePeriodStart, CommitmentDiscountCategory, CommitmentDiscountId, CommitmentDiscountName, CommitmentDiscountQuantity, CommitmentDiscountStatus, CommitmentDiscountType, CommitmentDiscountUnit, ConsumedQuantity, ConsumedUnit, ContractedCost, ContractedUnitPrice, EffectiveCost, InvoiceId, InvoiceIssuerName, ListCost, ListUnitPrice, PricingCategory, PricingCurrency, PricingCurrencyContractedUnitPrice, PricingCurrencyEffectiveCost, PricingCurrencyListUnitPrice, PricingQuantity, PricingUnit, ProviderName, PublisherName, RegionId, RegionName, ResourceId, ResourceName, ResourceType, ServiceCategory, ServiceName, ServiceSubcategory, SkuId, SkuMeter, SkuPriceDetails, SkuPriceId, SubAccountId, SubAccountName, SubAccountType, Tags)
SELECT
  CAST(NULL AS STRING) AS AvailabilityZone,
  SAFE_CAST(TRIM(NULLIF(`BilledCost`, '')) AS NUMERIC) AS BilledCost,
  NULLIF(`BillingAccountId`, '') AS BillingAccountId,
  NULLIF(`BillingAccountName`, '') AS BillingAccountName,
  CAST(NULL AS STRING) AS BillingAccountType,
  NULLIF(`BillingCurrency`, '') AS BillingCurrency,
  COALESCE(SAFE_CAST(TRIM(NULLIF(`BillingPeriodEnd`, '')) AS TIMESTAMP), SAFE_CAST(REGEXP_REPLACE(REGEXP_REPLACE(REGEXP_REPLACE(TRIM(NULLIF(`BillingPeriodEnd`, '')), @map_0, @map_1), @map_2, @map_3), @map_4, @map_5) AS TIMESTAMP)) AS BillingPeriodEnd,
  COALESCE(SAFE_CAST(TRIM(NULLIF(`BillingPeriodStart`, '')) AS TIMESTAMP), SAFE_CAST(REGEXP_REPLACE(REGEXP_REPLACE(REGEXP_REPLACE(TRIM(NULLIF(`BillingPeriodStart`, '')), @map_0, @map_1), @map_2, @map_3), @map_4, @map_5) AS TIMESTAMP)) AS BillingPeriodStart,
  CAST(NULL AS STRING) AS CapacityReservationId,
  CAST(NULL AS STRING) AS CapacityReservationStatus,
  NULLIF(`ChargeCategory`, '') AS ChargeCategory,
  NULLIF(`ChargeClass`, '') AS ChargeClass,
  NULLIF(`ChargeDescription`, '') AS ChargeDescription,
  COALESCE(NULLIF(`ChargeFrequency`, ''), @map_6) AS ChargeFrequency,
  COALESCE(SAFE_CAST(TRIM(NULLIF(`ChargePeriodEnd`, '')) AS TIMESTAMP), SAFE_CAST(REGEXP_REPLACE(REGEXP_REPLACE(REGEXP_REPLACE(TRIM(NULLIF(`ChargePeriodEnd`, '')), @map_0, @map_1), @map_2, @map_3), @map_4, @map_5) AS TIMESTAMP)) AS ChargePeriodEnd,
  COALESCE(SAFE_CAST(TRIM(NULLIF(`ChargePeriodStart`, '')) AS TIMESTAMP), SAFE_CAST(REGEXP_REPLACE(REGEXP_REPLACE(REGEXP_REPLACE(TRIM(NULLIF(`ChargePeriodStart`, '')), @map_0, @map_1), @map_2, @map_3), @map_4, @map_5) AS TIMESTAMP)) AS ChargePeriodStart,
  CAST(NULL AS STRING) AS CommitmentDiscountCategory,
  CAST(NULL AS STRING) AS CommitmentDiscountId,
  CAST(NULL AS STRING) AS CommitmentDiscountName,
  CAST(SAFE_CAST(TRIM(CAST(NULL AS STRING)) AS NUMERIC) AS FLOAT64) AS CommitmentDiscountQuantity,
  CAST(NULL AS STRING) AS CommitmentDiscountStatus,
  CAST(NULL AS STRING) AS CommitmentDiscountType,
  CAST(NULL AS STRING) AS CommitmentDiscountUnit,
  CAST(SAFE_CAST(TRIM(NULLIF(`ConsumedQuantity`, '')) AS NUMERIC) AS FLOAT64) AS ConsumedQuantity,
  NULLIF(`ConsumedUnit`, '') AS ConsumedUnit,
  CAST(SAFE_CAST(TRIM(NULLIF(`ContractedCost`, '')) AS NUMERIC) AS FLOAT64) AS ContractedCost,
  CAST(SAFE_CAST(TRIM(NULLIF(`ContractedUnitPrice`, '')) AS NUMERIC) AS FLOAT64) AS ContractedUnitPrice,
  SAFE_CAST(TRIM(NULLIF(`EffectiveCost`, '')) AS NUMERIC) AS EffectiveCost,
  CAST(NULL AS STRING) AS InvoiceId,
  NULLIF(`InvoiceIssuerName`, '') AS InvoiceIssuerName,
  CAST(SAFE_CAST(TRIM(NULLIF(`ListCost`, '')) AS NUMERIC) AS FLOAT64) AS ListCost,
  CAST(SAFE_CAST(TRIM(NULLIF(`ListUnitPrice`, '')) AS NUMERIC) AS FLOAT64) AS ListUnitPrice,
  NULLIF(`PricingCategory`, '') AS PricingCategory,
  COALESCE(CAST(NULL AS STRING), NULLIF(`BillingCurrency`, '')) AS PricingCurrency,
  CAST(SAFE_CAST(TRIM(COALESCE(CAST(NULL AS STRING), NULLIF(`ContractedUnitPrice`, ''))) AS NUMERIC) AS FLOAT64) AS PricingCurrencyContractedUnitPrice,
  SAFE_CAST(TRIM(COALESCE(CAST(NULL AS STRING), NULLIF(`EffectiveCost`, ''))) AS NUMERIC) AS PricingCurrencyEffectiveCost,
  CAST(SAFE_CAST(TRIM(COALESCE(CAST(NULL AS STRING), NULLIF(`ListUnitPrice`, ''))) AS NUMERIC) AS FLOAT64) AS PricingCurrencyListUnitPrice,
  CAST(SAFE_CAST(TRIM(NULLIF(`PricingQuantity`, '')) AS NUMERIC) AS FLOAT64) AS PricingQuantity,
  NULLIF(`PricingUnit`, '') AS PricingUnit,
  NULLIF(`ProviderName`, '') AS ProviderName,
  NULLIF(`PublisherName`, '') AS PublisherName,
  NULLIF(`RegionId`, '') AS RegionId,
  NULLIF(`RegionName`, '') AS RegionName,
  NULLIF(`ResourceId`, '') AS ResourceId,
  NULLIF(`ResourceName`, '') AS ResourceName,
  NULLIF(`ResourceType`, '') AS ResourceType,
  NULLIF(`ServiceCategory`, '') AS ServiceCategory,
  NULLIF(`ServiceName`, '') AS ServiceName,
  COALESCE(NULLIF(`ServiceSubcategory`, ''), CASE NULLIF(`ServiceCategory`, '') WHEN @map_7 THEN @map_8 WHEN @map_9 THEN @map_10 WHEN @map_11 THEN @map_12 WHEN @map_13 THEN @map_14 WHEN @map_15 THEN @map_16 WHEN @map_17 THEN @map_18 WHEN @map_19 THEN @map_20 WHEN @map_21 THEN @map_22 WHEN @map_23 THEN @map_24 WHEN @map_25 THEN @map_26 WHEN @map_27 THEN @map_28 WHEN @map_29 THEN @map_30 WHEN @map_31 THEN @map_32 WHEN @map_33 THEN @map_34 WHEN @map_35 THEN @map_36 WHEN @map_37 THEN @map_38 WHEN @map_39 THEN @map_40 WHEN @map_41 THEN @map_42 ELSE @map_43 END) AS ServiceSubcategory,
  NULLIF(`SkuId`, '') AS SkuId,
  CAST(NULL AS STRING) AS SkuMeter,
  SAFE.PARSE_JSON(NULLIF(TRIM(CAST(NULL AS STRING)), '')) AS SkuPriceDetails,
  NULLIF(`SkuPriceId`, '') AS SkuPriceId,
  NULLIF(`SubAccountId`, '') AS SubAccountId,
  NULLIF(`SubAccountName`, '') AS SubAccountName,
  CAST(NULL AS STRING) AS SubAccountType,
  SAFE.PARSE_JSON(NULLIF(TRIM(NULLIF(`Tags`, '')), '')) AS Tags
FROM `convergence-test.tenant_acme.mapped_raw`
