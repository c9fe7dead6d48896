"""``manage.py focus_export TENANT TABLE FILE.parquet``: a tenant's FOCUS table as Parquet."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from pipelines.services.focus_export import focus_table_export
from warehouse.bigquery import WarehouseError, get_warehouse
from warehouse.sql_identifiers import PlaceholderError, name_check


class Command(BaseCommand):
    help = "Export a tenant's FOCUS table (e.g. aws_cost_focus) to a Parquet file."

    def add_arguments(self, parser) -> None:
        parser.add_argument("tenant_id")
        parser.add_argument("table", help="table in the tenant's dataset, e.g. aws_cost_focus")
        parser.add_argument("output", help="the Parquet file to write")

    def handle(self, *args, **options) -> None:
        try:
            tenant_id = name_check("tenant_id", options["tenant_id"])
            table = name_check("table", options["table"])
        except PlaceholderError as exc:
            raise CommandError(str(exc)) from exc
        output = Path(options["output"])
        try:
            rows, columns = focus_table_export(
                warehouse=get_warehouse(), tenant_id=tenant_id, table=table, path=output
            )
        except WarehouseError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{rows} rows, {len(columns)} columns written to {output}")
