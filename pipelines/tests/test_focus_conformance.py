"""The per-run FOCUS conformance rule set, pinned: one violating row per rule.

Each rule id the ``dq.check`` step records as ``focus:<rule id>`` is listed here (so a rule
dropped from ``focus.conformance.RULES`` fails this test), and each gets a row that breaks it,
added alone to a conforming row: the rule must count it, and the step must record it FAIL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from focus.conformance import conformance_results, conformance_sql
from focus.model import ALLOWED_VALUES, FOCUS_COLUMNS, NOT_NULL_COLUMNS
from pipelines.configs import pipeline_config_get
from pipelines.processors import StepContext, processor_for
from warehouse.bigquery import Column
from warehouse.tables import DQ_RESULTS

JAN = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
BASELINE = {
    "BilledCost": 1,
    "EffectiveCost": 1,
    "ListCost": 1.0,
    "ContractedCost": 1.0,
    "BillingAccountId": "acct",
    "BillingCurrency": "USD",
    "BillingPeriodStart": JAN,
    "BillingPeriodEnd": JAN + dt.timedelta(days=31),
    "ChargeCategory": "Usage",
    "ChargeFrequency": "Usage-Based",
    "ChargePeriodStart": JAN + dt.timedelta(days=1),
    "ChargePeriodEnd": JAN + dt.timedelta(days=2),
    "ProviderName": "Cloud",
    "PublisherName": "Cloud",
    "InvoiceIssuerName": "Cloud",
    "ServiceCategory": "Compute",
    "ServiceSubcategory": "Virtual Machines",
    "ServiceName": "svc",
    "PricingCurrency": "USD",
    "PricingCurrencyEffectiveCost": 1,
    "PricingCategory": "Standard",
    "PricingQuantity": 1.0,
    "PricingUnit": "Hours",
    "SkuId": "sku",
    "SkuPriceId": "sku-price",
    "ConsumedQuantity": 1.0,
    "ConsumedUnit": "Hours",
}
PURCHASE = {
    "ChargeCategory": "Purchase",
    "ChargeFrequency": "One-Time",
    "ConsumedQuantity": None,
    "ConsumedUnit": None,
}
COMMITMENT = {
    "CommitmentDiscountId": "cd-1",
    "CommitmentDiscountCategory": "Spend",
    "CommitmentDiscountType": "Savings Plan",
}
TAX = {"ChargeCategory": "Tax", "ChargeFrequency": "One-Time", "ConsumedQuantity": None}
# The rules beyond the not-null and allowed-values families, each with a row breaking it.
CONDITIONAL = {
    "ServiceName-C-005-C": {"ServiceCategory": "Storage", "ServiceSubcategory": "Block Storage"},
    "ServiceSubcategory-C-004-M": {"ServiceName": "svc-2", "ServiceCategory": "Storage"},
    "SkuPriceId-C-008-M": {"SkuId": "another-sku"},
    "PricingQuantity-C-004-C": {**TAX, "ConsumedUnit": None},
    "PricingUnit-C-005-C": {"PricingUnit": None},
    "SkuId-C-004-C": {
        **TAX,
        "ConsumedUnit": None,
        "PricingQuantity": None,
        "PricingUnit": None,
        "PricingCategory": None,
        "SkuPriceId": None,
    },
    # A Usage row with no SKU, its SKU price therefore without a parent SkuId either.
    "SkuId-C-005-C": {"SkuId": None, "SkuPriceId": "sku-price-without-sku"},
    "PricingQuantity-C-005-C": {"PricingCategory": None},
    "ConsumedQuantity-C-004-C": {**PURCHASE, "ConsumedQuantity": 1.0, "ConsumedUnit": "Hours"},
    "ConsumedUnit-C-005-C": {"ConsumedUnit": None},
    "ChargeFrequency-C-004-C": {**PURCHASE, "ChargeFrequency": "Usage-Based"},
    "EffectiveCost-C-005-C": {**PURCHASE, **COMMITMENT, "EffectiveCost": 5},
    "CommitmentDiscountStatus-C-003-C": {"CommitmentDiscountStatus": "Used"},
    "CommitmentDiscountStatus-C-004-C": COMMITMENT,
    "RegionName-C-004-C": {"RegionId": "us-east1"},
    "ResourceType-C-004-C": {"ResourceId": "vm-1"},
    "SubAccountName-C-004-C": {"SubAccountId": "sub-1"},
    "ChargePeriod-ordering": {"ChargePeriodEnd": BASELINE["ChargePeriodStart"]},
    "BillingPeriod-ordering": {"BillingPeriodEnd": BASELINE["BillingPeriodStart"]},
}
PROBES: dict[str, dict] = {
    **{f"{column}-not-null": {column: None} for column in NOT_NULL_COLUMNS},
    **{f"{column}-allowed-values": {column: "Not-A-FOCUS-Value"} for column in ALLOWED_VALUES},
    **CONDITIONAL,
}
PROBE_COLUMN = "x_probe"


def _rows(*probes: str) -> list[dict]:
    rows = [{**BASELINE, PROBE_COLUMN: "baseline"}]
    rows += [{**BASELINE, **PROBES[p], PROBE_COLUMN: p} for p in probes]
    return [
        {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in row.items()}
        for row in rows
    ]


@pytest.fixture
def focus_table(warehouse, scratch_dataset):
    """A FOCUS table with the conforming row and one row per probe (tagged by ``x_probe``)."""
    columns = [*FOCUS_COLUMNS, Column(PROBE_COLUMN, "STRING")]
    warehouse.table_create(scratch_dataset, "focus_probe", columns)
    warehouse.insert_rows(scratch_dataset, "focus_probe", _rows(*PROBES))
    return "focus_probe"


def _counts(warehouse, dataset: str, view: str) -> dict[str, int]:
    row = warehouse.query(conformance_sql(warehouse.table_ref(dataset, view))).rows[0]
    return {rule.rule_id: n for rule, n in conformance_results(row)}


def test_every_rule_is_pinned_and_a_conforming_row_breaks_none(
    warehouse, scratch_dataset, focus_table
):
    quoted = warehouse.quoted(scratch_dataset, focus_table)
    warehouse.view_create(
        scratch_dataset, "only_baseline", f"SELECT * FROM {quoted} WHERE x_probe = 'baseline'"
    )
    counts = _counts(warehouse, scratch_dataset, "only_baseline")
    assert set(counts) == set(PROBES)
    assert {rule: n for rule, n in counts.items() if n} == {}


@pytest.mark.parametrize("rule", sorted(CONDITIONAL))
def test_each_conditional_rule_counts_its_violating_row(
    warehouse, scratch_dataset, focus_table, rule
):
    """The rule counts its own row when that row is the only one beside the conforming one."""
    quoted = warehouse.quoted(scratch_dataset, focus_table)
    view = "probe_" + rule.replace("-", "_").lower()
    warehouse.view_create(
        scratch_dataset,
        view,
        f"SELECT * FROM {quoted} WHERE x_probe IN ('baseline', '{rule}')",
    )
    assert _counts(warehouse, scratch_dataset, view)[rule] >= 1


def test_a_sku_price_without_a_sku_breaks_one_and_only_one_parent(
    warehouse, scratch_dataset, focus_table
):
    """SkuPriceId-C-008-M ("one and only one parent SkuId") counts a SKU price whose rows
    name no SKU, as the FinOps Foundation's validator does, not only one with two."""
    quoted = warehouse.quoted(scratch_dataset, focus_table)
    warehouse.view_create(
        scratch_dataset,
        "probe_no_parent",
        f"SELECT * FROM {quoted} WHERE x_probe IN ('baseline', 'SkuId-C-005-C')",
    )
    assert _counts(warehouse, scratch_dataset, "probe_no_parent")["SkuPriceId-C-008-M"] == 1


def test_the_dq_step_records_each_rule_as_failed(warehouse, scratch_dataset, focus_table):
    """Run the FOCUS pipelines' ``dq.check`` step over every violating row: each rule id is
    recorded ``focus:<rule id>`` FAIL in the run's ``x_meta_dq_results``."""
    config = pipeline_config_get("focus", "cost", "native")
    step = next(s for s in config.steps if s.ps_type == "dq.check")
    step = dataclasses.replace(
        step, options={"table": focus_table, "checks": {"focus_conformance": True}}
    )
    context = StepContext(
        warehouse=warehouse, tenant_id="acme", dataset_id=scratch_dataset, run_id="run-1"
    )

    result = processor_for(step).run(context.for_step(step))

    recorded = warehouse.query(
        f"SELECT check_name, status FROM {warehouse.quoted(scratch_dataset, DQ_RESULTS)} "
        "WHERE pipeline_logging_id = 'run-1'"
    ).rows
    focus = {r["check_name"]: r["status"] for r in recorded if r["check_name"].startswith("focus:")}
    assert focus == {f"focus:{rule}": "FAIL" for rule in PROBES}
    assert result.details["checks"]["focus:EffectiveCost-C-005-C"]["passed"] is False
