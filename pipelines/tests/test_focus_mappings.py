"""The maintained FOCUS mapping tables: units and service categories, checked against the spec."""

import csv
from pathlib import Path

import pytest

from focus.catalog import (
    AWS_SERVICES,
    AZURE_SERVICES,
    GCP_SERVICES,
    SERVICE_CATEGORIES,
    SUBCATEGORIES,
    classify,
)
from focus.units import (
    AWS_UNITS,
    AZURE_UNITS_OF_MEASURE,
    GCP_UNITS,
    UNIT_FORMAT,
    azure_pricing_unit,
    azure_unit,
)

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("table", [AWS_UNITS, GCP_UNITS], ids=["aws", "gcp"])
def test_every_mapped_unit_is_in_focus_unit_format(table):
    """Each provider unit maps to a value the FOCUS Unit Format grammar accepts."""
    bad = {raw: unit for raw, unit in table.items() if not UNIT_FORMAT.match(unit)}
    assert bad == {}


def test_every_azure_unit_of_measure_maps_to_focus_unit_format():
    """Azure's block sizes stay as a whole-number quantity in front of a FOCUS unit."""
    bad = [uom for uom in AZURE_UNITS_OF_MEASURE if not UNIT_FORMAT.match(azure_pricing_unit(uom))]
    assert bad == []
    assert azure_unit("10K") == (10000, "Units")
    assert azure_pricing_unit("10K") == "10000 Units"
    assert azure_pricing_unit("1 Hour") == "Hours"
    assert azure_pricing_unit("100 Hours") == "100 Hours"
    assert azure_pricing_unit("1 GB/Month") == "GB-Months"


def test_unit_format_grammar_rejects_provider_spellings():
    """The grammar is the spec's, not a catch-all: CUR's raw units do not pass."""
    for raw in ("GB-Mo", "Obj-Month", "10K", "Hrs/Month-ish", "gigabyte-seconds x"):
        assert not UNIT_FORMAT.match(raw), raw
    for ok in ("GB", "GB-Months", "Requests", "1000 Tokens", "GB/Hour", "Units/3 Months"):
        assert UNIT_FORMAT.match(ok), ok


@pytest.mark.parametrize(
    ("sample", "column", "table"),
    [
        ("aws_cur_sample.csv", "pricing/unit", AWS_UNITS),
        ("azure_ea_sample.csv", "UnitOfMeasure", dict.fromkeys(AZURE_UNITS_OF_MEASURE, "")),
    ],
)
def test_every_unit_in_the_samples_is_mapped(sample, column, table):
    """No unit of the shipped samples passes through unmapped."""
    with (DATA / sample).open(newline="", encoding="utf-8-sig") as handle:
        units = {row[column] for row in csv.DictReader(handle) if row[column]}
    assert units - set(table) == set()


def test_every_unit_of_the_gcp_test_export_is_mapped():
    """No unit of the generated GCP export rows passes through unmapped."""
    from devtools.gcp_export import SERVICES

    units = {
        unit
        for _, _, usage_unit, pricing_unit, _ in SERVICES
        for unit in (usage_unit, pricing_unit)
    }
    assert units - set(GCP_UNITS) == set()


@pytest.mark.parametrize(
    "mapping",
    [{k: v[1] for k, v in AWS_SERVICES.items()}, AZURE_SERVICES, GCP_SERVICES],
    ids=["aws", "azure", "gcp"],
)
def test_service_subcategories_come_from_the_focus_list(mapping):
    """Every mapped subcategory is a FOCUS 1.2 value with its one parent category."""
    assert set(mapping.values()) <= set(SUBCATEGORIES)
    assert {classify(s)[0] for s in mapping.values()} <= SERVICE_CATEGORIES


def test_aws_service_names_are_unique_per_code():
    """Two service codes never share a ServiceName, so a name cannot get two categories."""
    names = [name for name, _ in AWS_SERVICES.values()]
    assert len(names) == len(set(names))


def test_every_service_in_the_samples_is_classified():
    """The samples' services all have a category of their own (none falls to Other)."""
    with (DATA / "aws_cur_sample.csv").open(newline="", encoding="utf-8-sig") as handle:
        codes = {
            row["product/servicecode"] or row["lineItem/ProductCode"]
            for row in csv.DictReader(handle)
        }
    assert codes - set(AWS_SERVICES) == set()
    with (DATA / "azure_ea_sample.csv").open(newline="", encoding="utf-8-sig") as handle:
        categories = {row["MeterCategory"] for row in csv.DictReader(handle)}
    assert categories - set(AZURE_SERVICES) == set()
