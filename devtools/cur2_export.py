"""A CUR 2.0 Parquet file (AWS Data Exports) written from a CUR 1.0 CSV, deterministic.

Written from AWS's documentation of the CUR 2.0 table ("Data Exports table dictionary",
"Cost and Usage Report (CUR) 2.0"), not copied from a real export: snake_case names
(``line_item_unblended_cost``); costs, amounts and quantities as DOUBLE, rates as STRING (as
the dictionary types them); ``bill_billing_period_*`` and ``line_item_usage_*_date`` as
TIMESTAMP (UTC, microseconds); the product attributes outside CUR 2.0's fixed columns folded
into the ``product`` map, and ``resource_tags``, ``cost_category`` and ``discount`` as
``map<string, string>`` columns; ``bill_payer_account_name`` and
``line_item_usage_account_name``, which only CUR 2.0 has, filled from the account ids.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from focus.sql import cur2_name

D = decimal.Decimal

#: CUR 2.0's fixed product columns; every other ``product/…`` attribute goes to ``product``.
PRODUCT_COLUMNS = frozenset(
    {
        "product_comment",
        "product_fee_code",
        "product_fee_description",
        "product_from_location",
        "product_from_location_type",
        "product_from_region_code",
        "product_instance_family",
        "product_instance_type",
        "product_instancesku",
        "product_location",
        "product_location_type",
        "product_operation",
        "product_pricing_unit",
        "product_product_family",
        "product_region_code",
        "product_servicecode",
        "product_sku",
        "product_to_location",
        "product_to_location_type",
        "product_to_region_code",
        "product_usagetype",
    }
)
TIMESTAMPS = frozenset(
    {
        "bill_billing_period_start_date",
        "bill_billing_period_end_date",
        "line_item_usage_start_date",
        "line_item_usage_end_date",
    }
)
#: Numbers the dictionary types as double; rates (``…_rate``) stay strings there.
DOUBLE = re.compile(
    r"(_cost|_amount|_fee|_for_usage|_fee_for_billing_period|_quantity|_units|_factor"
    r"|_value|_commitment|_commitment_to_date|_commitment_for_billing_period"
    r"|_units_per_reservation)$"
)
MAPS = ("product", "resource_tags", "cost_category", "discount")
#: A few rows carry a cost allocation tag, as the ``resource_tags`` map holds it.
TAGGED_EVERY = 50


def _cur1_name(raw: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", raw.strip())


def _timestamp(value: str) -> datetime.datetime | None:
    if not value:
        return None
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(datetime.UTC)


def _column_type(name: str) -> pa.DataType:
    if name in TIMESTAMPS:
        return pa.timestamp("us", tz="UTC")
    if DOUBLE.search(name) and not name.endswith("_rate"):
        return pa.float64()
    return pa.string()


def cur2_rows(source: Path) -> tuple[list[str], list[dict]]:
    """The CUR 1.0 CSV's rows under CUR 2.0's names and types (maps as lists of pairs)."""
    with source.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [cur2_name(_cur1_name(name)) for name in next(reader)]
        raw_rows = list(reader)
    flat = [n for n in header if not n.startswith("product_") or n in PRODUCT_COLUMNS]
    columns = [*flat, "bill_payer_account_name", "line_item_usage_account_name", *MAPS]
    rows = []
    for index, values in enumerate(raw_rows):
        raw = dict(zip(header, values, strict=True))
        row: dict = {}
        for name in flat:
            value = raw[name]
            kind = _column_type(name)
            if kind == pa.float64():
                row[name] = float(value) if value else None
            elif pa.types.is_timestamp(kind):
                row[name] = _timestamp(value)
            else:
                row[name] = value or None
        row["bill_payer_account_name"] = f"payer-{raw['bill_payer_account_id']}"
        row["line_item_usage_account_name"] = f"account-{raw['line_item_usage_account_id']}"
        row["product"] = [
            (name.removeprefix("product_"), value)
            for name, value in raw.items()
            if name.startswith("product_") and name not in PRODUCT_COLUMNS and value
        ]
        row["resource_tags"] = [("user_team", "web")] if index % TAGGED_EVERY == 0 else []
        row["cost_category"] = []
        row["discount"] = []
        rows.append(row)
    return columns, rows


def cur2_parquet(source: Path, target: Path) -> Path:
    """Write ``source`` (a CUR 1.0 CSV) as a CUR 2.0 Parquet file at ``target``."""
    columns, rows = cur2_rows(source)
    fields = [
        pa.field(name, pa.map_(pa.string(), pa.string()) if name in MAPS else _column_type(name))
        for name in columns
    ]
    schema = pa.schema(fields)
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, target)
    return target


def cur2_totals(path: Path) -> tuple[D, D]:
    """(sum of line_item_unblended_cost, amortized cost) of a CUR 2.0 Parquet file, read with
    pyarrow and summed in Python, by the rule ``devtools.commitment_fixtures`` documents."""
    from devtools.commitment_fixtures import aws_totals

    table = pq.read_table(path)
    cur1 = {cur2_name(_cur1_name(name)): name for name in _CUR1_NAMES}
    renamed = [
        {
            cur1.get(k, k): "" if v is None else (repr(v) if isinstance(v, float) else v)
            for k, v in row.items()
        }
        for row in table.to_pylist()
    ]
    return aws_totals(renamed)


_CUR1_NAMES = (
    "lineItem/LineItemType",
    "lineItem/UnblendedCost",
    "reservation/EffectiveCost",
    "reservation/UnusedRecurringFee",
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
    "reservation/ReservationARN",
    "savingsPlan/SavingsPlanEffectiveCost",
    "savingsPlan/TotalCommitmentToDate",
    "savingsPlan/UsedCommitment",
)
