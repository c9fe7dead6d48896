"""Seeded, deterministic rows in the shape of the GCP standard or detailed billing export."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

# The public standard-export schema, the parts FOCUS normalization reads. The emulator keeps
# STRUCT and ARRAY<STRUCT> columns only when the table is created by DDL; a JSON load with
# autodetect quotes nested names such as "key" and reads timestamps as STRING.
GCP_EXPORT_DDL = """CREATE OR REPLACE TABLE `{table}` (
  billing_account_id STRING,
  service STRUCT<id STRING, description STRING>,
  sku STRUCT<id STRING, description STRING>,
  usage_start_time TIMESTAMP,
  usage_end_time TIMESTAMP,
  project STRUCT<id STRING, name STRING>,
  labels ARRAY<STRUCT<key STRING, value STRING>>,
  location STRUCT<location STRING, country STRING, region STRING, zone STRING>,
  export_time TIMESTAMP,
  cost FLOAT64,
  currency STRING,
  currency_conversion_rate FLOAT64,
  usage STRUCT<amount FLOAT64, unit STRING, amount_in_pricing_units FLOAT64,
               pricing_unit STRING>,
  credits ARRAY<STRUCT<name STRING, amount FLOAT64, full_name STRING, id STRING,
                       type STRING>>,
  invoice STRUCT<month STRING>,
  cost_type STRING{detailed}
)"""
# The detailed (resource-level) export adds the resource a row's cost comes from.
GCP_DETAILED_FIELDS = ",\n  resource STRUCT<name STRING, global_name STRING>"
# Services whose rows name a resource in the detailed export: full-name pattern, name prefix.
RESOURCES = {
    "Compute Engine": (
        "//compute.googleapis.com/projects/{p}/zones/us-central1-a/instances/{n}",
        "vm",
    ),
    "Cloud Storage": ("//storage.googleapis.com/projects/_/buckets/{p}-bucket-{n}", "bucket"),
}

SERVICES = (
    ("6F81-5844-456A", "Compute Engine", "seconds", "hour", 3600.0),
    ("95FF-2EF5-5EA1", "Cloud Storage", "byte-seconds", "gibibyte month", 2.8e15),
    ("24E6-581D-38E5", "BigQuery", "bytes", "tebibyte", 1.1e12),
    ("152E-C115-5142", "Cloud Run", "seconds", "vCPU-second", 1.0),
    ("9662-B51E-5089", "Cloud SQL", "seconds", "hour", 3600.0),
    ("E505-1604-58F8", "Networking", "bytes", "gibibyte", 1.07e9),
    ("AAAA-BBBB-CCCC", "Some Marketplace Thing", "requests", "request", 1.0),
)
PROJECTS = (("acme-prod-1", "Acme Prod"), ("acme-dev-7", "Acme Dev"), ("acme-data-3", "Data"))
REGIONS = ("us-central1", "europe-west1", "asia-east1", None)
LABELS = (("env", ("prod", "dev")), ("team", ("core", "data", "web")), ("cost-center", ("42",)))


def gcp_export_rows(
    *, count: int = 200, seed: int = 7, month: str = "202401", detailed: bool = False
) -> list[dict]:
    """``count`` export rows: mostly usage, some with credits, a few tax and adjustment rows.
    ``detailed``: rows of the detailed export, Compute Engine and Cloud Storage usage naming
    their resource (one of three per project)."""
    rng = random.Random(seed)
    first = dt.datetime.strptime(month + "01", "%Y%m%d").replace(tzinfo=dt.UTC)
    rows = []
    for index in range(count):
        service_id, service_name, unit, pricing_unit, per_unit = rng.choice(SERVICES)
        project_id, project_name = rng.choice(PROJECTS)
        start = first + dt.timedelta(hours=rng.randrange(0, 24 * 28))
        amount = round(rng.uniform(0.0, 5000.0), 3)
        cost = round(rng.uniform(0.0, 12.0), 6)
        kind = rng.choices(("regular", "tax", "adjustment"), weights=(90, 6, 4))[0]
        credits = []
        if kind == "regular" and rng.random() < 0.3:
            credits.append(
                {
                    "name": "Free tier",
                    "amount": -round(cost * rng.uniform(0.1, 1.0), 6),
                    "full_name": None,
                    "id": f"credit-{index}",
                    "type": rng.choice(("FREE_TIER", "PROMOTION", "SUSTAINED_USAGE_DISCOUNT")),
                }
            )
        region = rng.choice(REGIONS)
        rows.append(
            {
                "billing_account_id": "01A2B3-C4D5E6-F7A8B9",
                "service": {"id": service_id, "description": service_name},
                "sku": {"id": f"SKU-{index % 17:04d}", "description": f"{service_name} usage"},
                "usage_start_time": start.isoformat(),
                "usage_end_time": (start + dt.timedelta(hours=1)).isoformat(),
                "project": {"id": project_id, "name": project_name},
                "labels": [
                    {"key": key, "value": rng.choice(values)}
                    for key, values in LABELS
                    if rng.random() < 0.5
                ],
                "location": {
                    "location": region,
                    "country": None,
                    "region": region,
                    "zone": None,
                },
                "export_time": (start + dt.timedelta(hours=6)).isoformat(),
                "cost": cost if kind != "adjustment" else -cost,
                "currency": "USD",
                "currency_conversion_rate": 1.0,
                "usage": {
                    "amount": amount if kind == "regular" else 0.0,
                    "unit": unit,
                    "amount_in_pricing_units": round(amount / per_unit, 9)
                    if kind == "regular"
                    else 0.0,
                    "pricing_unit": pricing_unit,
                },
                "credits": credits,
                "invoice": {"month": month},
                "cost_type": kind,
            }
        )
        if detailed:
            pattern, prefix = RESOURCES.get(service_name, (None, None))
            number = index % 3
            rows[-1]["resource"] = (
                {
                    "name": f"{prefix}-{number}",
                    "global_name": pattern.format(p=project_id, n=number),
                }
                if pattern and kind == "regular"
                else {"name": None, "global_name": None}
            )
    return rows


def gcp_export_write(rows: list[dict], path: Path) -> Path:
    """The rows as newline-delimited JSON, the format the warehouse loads nested data from."""
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def gcp_export_load(warehouse, dataset_id: str, table_id: str, rows: list[dict], path: Path):
    """Create the export table by DDL (keeps its STRUCTs), then load the rows into it."""
    detailed = GCP_DETAILED_FIELDS if rows and "resource" in rows[0] else ""
    ddl = GCP_EXPORT_DDL.replace("{detailed}", detailed)
    warehouse.query(ddl.replace("{table}", warehouse.table_ref(dataset_id, table_id)))
    return warehouse.load_file(
        gcp_export_write(rows, path),
        dataset_id,
        table_id,
        source_format="NEWLINE_DELIMITED_JSON",
        write_mode="append",
    )
