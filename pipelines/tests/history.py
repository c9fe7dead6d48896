"""Monthly CUR files for history tests, made from the November 2023 sample by shifting dates.

Deterministic: the same month and restatement always give the same bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import re
from pathlib import Path

DATA = Path(__file__).parent / "data"
AWS_SAMPLE = DATA / "aws_cur_sample.csv"
COST = "lineItem/UnblendedCost"
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T")


def month_shift(text: str, months: int) -> str:
    """Every ISO date-time in ``text`` moved ``months`` months on (days past 28 kept at 28)."""

    def shifted(match: re.Match) -> str:
        year, month, day = (int(g) for g in match.groups())
        index = year * 12 + month - 1 + months
        return f"{index // 12:04d}-{index % 12 + 1:02d}-{min(day, 28):02d}T"

    return _DATE.sub(shifted, text)


def aws_cur_month(
    path: Path, months: int = 0, *, restated: decimal.Decimal | None = None, rows: int = 0
) -> Path:
    """The sample CUR moved ``months`` on, written to ``path``. ``restated``: the first Usage
    line's cost is raised by that amount (a restatement changes one line). ``rows``: the
    sample's rows repeated, each copy with its own line item ids, up to that many rows."""
    with AWS_SAMPLE.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        lines = list(reader)
    cost = header.index(COST)
    kind = header.index("lineItem/LineItemType")
    line_id = header.index("identity/LineItemId")
    if restated is not None:
        first = next(i for i, line in enumerate(lines) if line[kind] == "Usage")
        lines[first] = list(lines[first])
        lines[first][cost] = str(decimal.Decimal(lines[first][cost]) + restated)
    if rows:
        copies = []
        for n in range(rows):
            line = list(lines[n % len(lines)])
            if n >= len(lines):
                line[line_id] = f"{line[line_id]}-{n // len(lines)}"
            copies.append(line)
        lines = copies
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(lines)
    path.write_text(month_shift(out.getvalue(), months), encoding="utf-8")
    return path


def cur_total(path: Path) -> decimal.Decimal:
    """The file's billed total (lineItem/UnblendedCost), computed without the warehouse."""
    with path.open(newline="", encoding="utf-8") as handle:
        return sum(
            (decimal.Decimal(row[COST]) for row in csv.DictReader(handle) if row[COST]),
            decimal.Decimal(0),
        )


def aws_cur_days(path: Path, first, last, *, spike_day=None, spike: int = 0) -> Path:
    """A daily CUR from ``first`` to ``last`` (dates; may span months, each row in its own
    month's billing period): the sample's usage lines of its first day, repeated every day,
    each line costing 20 + 5 x its number dollars a day, ±8 % by a fixed pattern; ``spike``
    dollars added to the dearest line on ``spike_day``."""
    with AWS_SAMPLE.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or ())
        template = [
            row
            for row in reader
            if row["lineItem/LineItemType"] == "Usage"
            and row["lineItem/UsageStartDate"].startswith("2023-11-01")
        ]
    out = io.StringIO()
    writer = csv.DictWriter(out, header, lineterminator="\n")
    writer.writeheader()
    day = first
    while day <= last:
        month = day.replace(day=1)
        following = (month + dt.timedelta(days=32)).replace(day=1)
        for n, line in enumerate(template):
            cost = decimal.Decimal(20 + 5 * n) * (
                1 + decimal.Decimal(((day.toordinal() * 7 + n * 13) % 17) - 8) / 100
            )
            if day == spike_day and n == len(template) - 1:
                cost += spike
            start, end = f"{day}T00:00:00Z", f"{day + dt.timedelta(days=1)}T00:00:00Z"
            writer.writerow(
                {
                    **line,
                    "identity/LineItemId": f"{line['identity/LineItemId']}-{day}",
                    "identity/TimeInterval": f"{start}/{end}",
                    "bill/BillingPeriodStartDate": f"{month}T00:00:00.000Z",
                    "bill/BillingPeriodEndDate": f"{following}T00:00:00.000Z",
                    "lineItem/UsageStartDate": start,
                    "lineItem/UsageEndDate": end,
                    "lineItem/UnblendedCost": str(cost.quantize(decimal.Decimal("0.0001"))),
                }
            )
        day += dt.timedelta(days=1)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path
