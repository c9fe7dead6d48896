"""Write a provider export into the local S3 server (S3_ENDPOINT_URL) as AWS or OCI writes it.

    manage.py export_sample_put cur --bucket acme-billing --prefix cur --report acme \
        --month 2024-01 --parts 3
    manage.py export_sample_put cur ... --month 2024-01 --assembly-id second --restate 1.25
    manage.py export_sample_put data-export --bucket acme-billing --prefix exports \
        --export cur2 --month 2024-01 [--kind focus] [--format csv]
    manage.py export_sample_put oci --bucket ocid1.tenancy.oc1..example --month 2024-02

Rows come from the repository's samples moved to the month (see devtools/export_samples.py).
"""

import argparse
import datetime as dt
import decimal

from django.core.management.base import BaseCommand, CommandError

from devtools.export_samples import (
    cur_month_put,
    data_export_month_put,
    oci_month_put,
    oci_report_put,
)


def _month(text: str) -> dt.date:
    try:
        return dt.datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a month as YYYY-MM") from None


def _amount(text: str | None) -> decimal.Decimal | None:
    if text is None:
        return None
    try:
        return decimal.Decimal(text)
    except decimal.InvalidOperation:
        raise CommandError(f"--restate {text!r}: give an amount, e.g. 1.25") from None


class Command(BaseCommand):
    help = "Put a CUR 1.0 month, an AWS Data Exports month or OCI cost reports into local S3."

    def add_arguments(self, parser):
        kinds = parser.add_subparsers(dest="kind", required=True)
        cur = kinds.add_parser("cur", help="a CUR 1.0 month: gzip CSV parts and the manifest")
        cur.add_argument("--report", required=True, help="the report's name")
        cur.add_argument("--parts", type=int, default=3)
        cur.add_argument("--assembly-id", help="a re-delivery: a new assembly id")
        exports = kinds.add_parser("data-export", help="an AWS Data Exports month")
        exports.add_argument("--export", required=True, help="the export's name")
        exports.add_argument("--parts", type=int, default=2)
        exports.add_argument(
            "--kind", dest="export_kind", choices=("cur2", "focus"), default="cur2"
        )
        exports.add_argument(
            "--format", dest="file_format", choices=("parquet", "csv"), default="parquet"
        )
        exports.add_argument("--execution-id", help="a re-delivery: a new execution id")
        oci = kinds.add_parser("oci", help="OCI cost report files of a month")
        oci.add_argument("--files", type=int, default=2)
        oci.add_argument("--first-number", type=int, default=1, help="the first file's number")
        oci.add_argument(
            "--with-previous-month",
            action="store_true",
            help="one more file holding rows of this month and the month before",
        )
        for sub in (cur, exports, oci):
            sub.add_argument("--bucket", required=True)
            sub.add_argument("--month", required=True, type=_month, help="YYYY-MM")
        for sub in (cur, exports):
            sub.add_argument("--prefix", default="")
            sub.add_argument("--restate", help="one line's cost raised by this amount")
        oci.add_argument("--prefix", default="reports/cost-csv")

    def handle(self, *args, kind: str, **options):
        if options.get("parts", 1) < 1 or options.get("files", 1) < 1:
            raise CommandError("--parts and --files must be at least 1")
        common = {
            "bucket": options["bucket"],
            "prefix": options["prefix"],
            "month": options["month"],
        }
        if kind == "cur":
            put = cur_month_put(
                **common,
                report=options["report"],
                parts=options["parts"],
                assembly_id=options["assembly_id"],
                restated=_amount(options["restate"]),
            )
        elif kind == "data-export":
            put = data_export_month_put(
                **common,
                export=options["export"],
                parts=options["parts"],
                kind=options["export_kind"],
                file_format=options["file_format"],
                execution_id=options["execution_id"],
                restated=_amount(options["restate"]),
            )
        else:
            put = oci_month_put(
                **common, files=options["files"], first_number=options["first_number"]
            )
            if options["with_previous_month"]:
                month = options["month"]
                previous = (month - dt.timedelta(days=1)).replace(day=1)
                extra = oci_report_put(
                    bucket=options["bucket"],
                    prefix=options["prefix"],
                    number=options["first_number"] + options["files"],
                    months=(previous, month),
                    share=(0, 2),
                )
                put.part_keys += extra.part_keys
                for period, total in extra.totals.items():
                    put.totals[period] = put.totals.get(period, decimal.Decimal(0)) + total
                put.rows += extra.rows
        bucket = options["bucket"]
        if put.manifest_key:
            self.stdout.write(f"manifest  s3://{bucket}/{put.manifest_key}")
        if put.delivery_id:
            self.stdout.write(f"delivery  {put.delivery_id}")
        for key in put.part_keys:
            self.stdout.write(f"part      s3://{bucket}/{key}")
        for period, total in sorted(put.totals.items()):
            self.stdout.write(f"total     {period:%Y-%m}  {total}")
        self.stdout.write(f"rows      {put.rows}")
