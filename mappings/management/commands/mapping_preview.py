"""Dry-run a FOCUS mapping on a sample file: the FOCUS rows it makes of the first rows, the
required FOCUS columns it leaves empty and the FOCUS MUST rules those rows break."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mappings.format import MappingInvalid, mapping_parse
from mappings.selectors import mapping_spec_for_tenant
from mappings.services import (
    PREVIEW_ROWS_DEFAULT,
    PREVIEW_ROWS_MAX,
    MappingError,
    mapping_preview,
    sample_file_head,
)
from warehouse.bigquery import WarehouseUnavailable

SHOWN = (
    "ChargePeriodStart",
    "ServiceName",
    "ServiceCategory",
    "ChargeCategory",
    "BilledCost",
    "BillingCurrency",
)


class Command(BaseCommand):
    help = (
        "Dry-run a FOCUS mapping (by name, as the tenant sees it, or a YAML file) on a sample "
        "CSV, in the tenant's dataset; nothing is kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("mapping", help="a mapping name (e.g. oci) or a path to a .yml file")
        parser.add_argument("sample", help="a CSV file (gzip allowed)")
        parser.add_argument("--tenant", required=True, help="the tenant whose dataset is used")
        parser.add_argument("--rows", type=int, default=PREVIEW_ROWS_DEFAULT)
        parser.add_argument("--json", action="store_true", help="print the whole preview as JSON")

    def handle(self, *args, mapping: str, sample: str, tenant: str, rows: int, **options):
        if not 1 <= rows <= PREVIEW_ROWS_MAX:
            raise CommandError(f"--rows must be 1 to {PREVIEW_ROWS_MAX}")
        try:
            if mapping.endswith((".yml", ".yaml")):
                path = Path(mapping)
                spec = mapping_parse(path.read_text(encoding="utf-8"), file=path.name)
            else:
                spec = mapping_spec_for_tenant(tenant_id=tenant, name=mapping)
                if spec is None:
                    raise CommandError(f"no FOCUS mapping named {mapping!r} for {tenant}")
            text = sample_file_head(Path(sample), rows=rows)
            preview = mapping_preview(tenant_id=tenant, spec=spec, sample=text, rows=rows)
        except MappingInvalid as exc:
            raise CommandError("\n".join(str(i) for i in exc.issues)) from None
        except (MappingError, OSError) as exc:
            raise CommandError(str(exc)) from None
        except WarehouseUnavailable:
            where = settings.WAREHOUSE_ENDPOINT or "BigQuery"
            raise CommandError(
                f"the warehouse at {where} did not answer; locally, run this with `make run` "
                "going and the same PORT it was started with"
            ) from None
        if options["json"]:
            self.stdout.write(json.dumps(preview.as_dict(), indent=2, default=str))
            return
        self.stdout.write(f"{preview.mapping}: {preview.rows_read} sample rows read")
        self.stdout.write("  ".join(SHOWN))
        for row in preview.focus_rows:
            self.stdout.write("  ".join(str(row.get(c)) for c in SHOWN))
        if preview.empty_required:
            self.stdout.write("Required FOCUS columns left empty:")
            for column, n in preview.empty_required.items():
                self.stdout.write(f"  {column}: empty on {n} of {preview.rows_read} rows")
        else:
            self.stdout.write("Required FOCUS columns left empty: none")
        if preview.broken_rules:
            self.stdout.write("FOCUS MUST rules broken:")
            for rule in preview.broken_rules:
                self.stdout.write(f"  {rule['rule']} ({rule['rows']} rows): {rule['text']}")
        else:
            self.stdout.write("FOCUS MUST rules broken: none")
