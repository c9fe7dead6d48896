"""Provider units to FOCUS Unit Format (FOCUS 1.2, attributes/unit_format), one table per provider.

Each table maps a provider's unit string to a FOCUS unit: data sizes abbreviated (``GB``,
``GiB``), counts as plural capitalized nouns (``Requests``), time units from the FOCUS list
(``Hours``, ``GB-Months``). A unit with a block size (Azure's ``10K``, ``100 Hours``) keeps it
as a whole-number quantity (``10000 Units``), so the price per unit stays the provider's.
A unit missing from a table passes through unchanged; ``docs/focus.md`` lists the tables.
"""

from __future__ import annotations

import re

# The validator's and the spec's grammar, for the tests: <units>, <unit>-<plural time>,
# <units>/<singular time>, <n> <units>, <units>/<n> <plural time>.
_DATA = "b|Kb|Mb|Gb|Tb|Pb|Eb|Kib|Mib|Gib|Tib|Pib|Eib|B|KB|MB|GB|TB|PB|EB|KiB|MiB|GiB|TiB|PiB|EiB"
_TIME1 = "Year|Month|Day|Hour|Minute|Second"
_TIME_N = "Years|Months|Days|Hours|Minutes|Seconds"
_COUNT = "[A-Za-z][A-Za-z0-9]*(?: [A-Za-z][A-Za-z0-9]*)*"
UNIT_FORMAT = re.compile(
    rf"\A(?:(?:{_DATA}|{_TIME1}|{_TIME_N}|{_COUNT})"
    rf"|(?:{_DATA}|{_COUNT})-(?:{_TIME_N})"
    rf"|(?:{_DATA}|{_COUNT}|{_TIME_N})/(?:{_TIME1})"
    rf"|[0-9]+ (?:{_DATA}|{_TIME1}|{_TIME_N}|{_COUNT})"
    rf"|(?:{_DATA}|{_COUNT}|{_TIME_N})/[0-9]+ (?:{_TIME_N}))\Z"
)

# AWS CUR ``pricing/unit`` (CUR 2.0 ``pricing_unit``).
AWS_UNITS: dict[str, str] = {
    "Hrs": "Hours",
    "Hours": "Hours",
    "hours": "Hours",
    "Hour": "Hours",
    "vCPU-Hours": "vCPU-Hours",
    "vCPU-hour": "vCPU-Hours",
    "ACU-Hr": "ACU-Hours",
    "ACU-Hrs": "ACU-Hours",
    "LCU-Hrs": "LCU-Hours",
    "NatGateway-Hours": "NAT Gateway-Hours",
    "IdleLCU-Hr": "Idle LCU-Hours",
    "DPU-Hour": "DPU-Hours",
    "Second": "Seconds",
    "Seconds": "Seconds",
    "Lambda-GB-Second": "GB-Seconds",
    "GB-Second": "GB-Seconds",
    "Minutes": "Minutes",
    "GB": "GB",
    "GB-Mo": "GB-Months",
    "GB-month": "GB-Months",
    "GB-Month": "GB-Months",
    "GB-Hours": "GB-Hours",
    "GigaBytes": "GB",
    "TB": "TB",
    "Obj-Month": "Object-Months",
    "Objects": "Objects",
    "IOs": "IOs",
    "IOPS-Mo": "IOPS-Months",
    "MBPS-Mo": "MBps-Months",
    "GiBps-mo": "GiBps-Months",
    "Requests": "Requests",
    "Request": "Requests",
    "requests": "Requests",
    "API Request": "API Requests",
    "API Requests": "API Requests",
    "Count": "Count",
    "Queries": "Queries",
    "Events": "Events",
    "Keys": "Keys",
    "Key": "Keys",
    "Dashboards": "Dashboards",
    "Alarms": "Alarms",
    "Metrics": "Metrics",
    "Operations": "Operations",
    "Messages": "Messages",
    "Notifications": "Notifications",
    "Secrets": "Secrets",
    "State Transitions": "State Transitions",
    "Units": "Units",
    "Unit": "Units",
    "User": "Users",
    "Users": "Users",
    "Domains": "Domains",
    "Certificates": "Certificates",
    "Quantity": "Units",
}

# Azure ``UnitOfMeasure`` without its block size: ``1 Hour`` → ``Hours``, ``10K`` → ``10000 Units``.
AZURE_UNIT_NAMES: dict[str, str] = {
    "Hour": "Hours",
    "Hours": "Hours",
    "Minute": "Minutes",
    "Minutes": "Minutes",
    "Second": "Seconds",
    "Day": "Days",
    "Days": "Days",
    "Month": "Months",
    "Months": "Months",
    "GB": "GB",
    "GiB": "GiB",
    "TB": "TB",
    "MB": "MB",
    "GB/Month": "GB-Months",
    "GiB/Month": "GiB-Months",
    "TB/Month": "TB-Months",
    "GB/Hour": "GB-Hours",
    "GB Hour": "GB-Hours",
    "GiB/Hour": "GiB-Hours",
    "GB Second": "GB-Seconds",
    "vCPU Hour": "vCPU-Hours",
    "vCore Hour": "vCore-Hours",
    "Transactions": "Transactions",
    "Transaction": "Transactions",
    "Operations": "Operations",
    "Requests": "Requests",
    "Messages": "Messages",
    "Units": "Units",
    "Unit": "Units",
    "Unit/Month": "Units/Month",
    "Unit/Hour": "Units/Hour",
    "": "Units",  # "10K", "1K": a block of units with no name
    "/Month": "Units/Month",
}
AZURE_BLOCK = re.compile(r"\A\s*([0-9]+)\s*([KM]?)\s*(.*?)\s*\Z")
_MULTIPLIERS = {"": 1, "K": 1000, "M": 1000000}

# GCP billing export ``usage.pricing_unit`` and ``usage.unit``.
GCP_UNITS: dict[str, str] = {
    "hour": "Hours",
    "hours": "Hours",
    "second": "Seconds",
    "seconds": "Seconds",
    "minute": "Minutes",
    "month": "Months",
    "day": "Days",
    "byte": "B",
    "bytes": "B",
    "gibibyte": "GiB",
    "tebibyte": "TiB",
    "mebibyte": "MiB",
    "gibibyte hour": "GiB-Hours",
    "gibibyte month": "GiB-Months",
    "gibibyte day": "GiB-Days",
    "tebibyte month": "TiB-Months",
    "byte-seconds": "Byte-Seconds",
    "byte-second": "Byte-Seconds",
    "count": "Count",
    "requests": "Requests",
    "request": "Requests",
    "api calls": "API Calls",
    "vCPU hour": "vCPU-Hours",
    "vCPU-second": "vCPU-Seconds",
    "vCPU-seconds": "vCPU-Seconds",
    "gibibyte second": "GiB-Seconds",
    "gibibyte-second": "GiB-Seconds",
    "core hour": "Core-Hours",
}


def azure_unit(unit_of_measure: str) -> tuple[int, str]:
    """The block size and FOCUS unit of an Azure ``UnitOfMeasure`` (``10K`` → 10000, Units)."""
    match = AZURE_BLOCK.match(unit_of_measure or "")
    if not match:
        return 1, AZURE_UNIT_NAMES.get(unit_of_measure, unit_of_measure)
    number, multiplier, name = match.groups()
    return int(number) * _MULTIPLIERS[multiplier], AZURE_UNIT_NAMES.get(name, name)


def azure_pricing_unit(unit_of_measure: str) -> str:
    """The FOCUS PricingUnit for an Azure ``UnitOfMeasure``: the block size stays in front."""
    size, unit = azure_unit(unit_of_measure)
    return unit if size == 1 else f"{size} {unit}"


# Azure exports use a small, stable set of UnitOfMeasure strings; each is mapped in SQL by
# a CASE built from this list (anything else passes through).
AZURE_UNITS_OF_MEASURE: tuple[str, ...] = (
    "1 Hour",
    "1 Hours",
    "10 Hours",
    "100 Hours",
    "1 Minute",
    "1 Second",
    "1 Day",
    "1 Month",
    "1/Month",
    "1 GB",
    "10 GB",
    "100 GB",
    "1 GiB",
    "1 TB",
    "1 MB",
    "1 GB/Month",
    "1 GiB/Month",
    "1 TB/Month",
    "1 GB/Hour",
    "1 GiB/Hour",
    "1 GB Second",
    "1 vCPU Hour",
    "1 vCore Hour",
    "1",
    "10",
    "100",
    "1K",
    "10K",
    "100K",
    "1M",
    "10M",
    "1 Unit",
    "1 Unit/Month",
    "1 Unit/Hour",
    "10K Transactions",
    "1M Transactions",
    "10K Operations",
    "1M Messages",
    "1 Requests",
    "1K Requests",
    "1M Requests",
)


def unit_case(expr: str, mapping: dict[str, str]) -> str:
    """A SQL CASE mapping ``expr`` through a fixed table; unknown units pass through."""
    branches = " ".join(f"WHEN {_quote(raw)} THEN {_quote(unit)}" for raw, unit in mapping.items())
    return f"CASE {expr} {branches} ELSE {expr} END"


def _quote(value: str) -> str:
    if "'" in value or "\\" in value:
        raise ValueError(f"unit {value!r} cannot be quoted")
    return f"'{value}'"
