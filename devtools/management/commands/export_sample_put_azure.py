"""Put Azure Cost Management export runs (actual and amortized cost details, partitioned CSV and
a manifest.json each) into the local Azurite, as Cost Management would deliver them."""

import contextlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devtools.azure_exports import SAMPLE, export_run_put, rows_in_month, sample_rows
from devtools.azurite import ACCOUNT, ACCOUNT_KEY


def _month(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m").date()
    except ValueError as exc:
        raise CommandError(f"{value!r} is not a month (YYYY-MM)") from exc


class Command(BaseCommand):
    help = (
        "Write Azure cost export runs (actual and amortized, partitioned CSV + manifest.json) "
        "for the given months into Azurite (AZURE_BLOB_ENDPOINT)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--months", nargs="+", type=_month, default=None, metavar="YYYY-MM")
        parser.add_argument(
            "--kinds", nargs="+", choices=["actual", "amortized"], default=["actual", "amortized"]
        )
        parser.add_argument("--container", default="exports")
        parser.add_argument("--root", default="costs", help="the exports' root folder")
        parser.add_argument("--parts", type=int, default=3)
        parser.add_argument("--gzip", action="store_true", help="gzip the CSV parts")
        parser.add_argument("--parquet", action="store_true", help="Parquet parts, not CSV")
        parser.add_argument("--source", type=Path, default=SAMPLE, help="cost-details CSV")
        parser.add_argument(
            "--sas", action="store_true", help="also print a read/list SAS URL of the container"
        )

    def handle(
        self, *args, months, kinds, container, root, parts, gzip, parquet, source, sas, **options
    ):
        endpoint = settings.AZURE_BLOB_ENDPOINT.rstrip("/")
        if not endpoint:
            raise CommandError("AZURE_BLOB_ENDPOINT is empty: this command writes to Azurite only")
        if not source.exists():
            raise CommandError(f"{source} does not exist")
        if months is None:
            months = [(datetime.now(UTC).date().replace(day=1) - timedelta(days=1)).replace(day=1)]
        account_url = f"{endpoint}/{ACCOUNT}"
        service = BlobServiceClient(
            account_url,
            credential={"account_name": ACCOUNT, "account_key": ACCOUNT_KEY},
            retry_total=0,
        )
        client = service.get_container_client(container)
        header, rows = sample_rows(source)
        try:
            with contextlib.suppress(ResourceExistsError):
                client.create_container()
            for period in months:
                for kind in kinds:
                    run = export_run_put(
                        client,
                        root=root,
                        export_name=f"{kind}-cost",
                        kind=kind,
                        period=period,
                        header=header,
                        rows=rows_in_month(rows, period),
                        parts=parts,
                        compress=gzip,
                        file_format="parquet" if parquet else "csv",
                    )
                    self.stdout.write(
                        f"{period:%Y-%m} {kind}: {run.rows} rows in {len(run.part_keys)} parts, "
                        f"run {run.run_id} ({run.manifest_key})"
                    )
        except AzureError as exc:
            raise CommandError(
                f"Azurite at {endpoint} did not take the export ({type(exc).__name__}); is "
                "`make run` (or `manage.py storage_emulator azurite`) running?"
            ) from None
        self.stdout.write(
            f"Export location: account URL {account_url}, container {container!r}, "
            f"prefix {root.strip('/') + '/'!r} (account {ACCOUNT}, Azurite's development key)."
        )
        if sas:
            token = generate_container_sas(
                ACCOUNT,
                container,
                account_key=ACCOUNT_KEY,
                permission=ContainerSasPermissions(read=True, list=True),
                expiry=datetime.now(UTC) + timedelta(days=365),
            )
            self.stdout.write(f"Container SAS URL (local only): {account_url}/{container}?{token}")
