"""GET /api/v1/tenants/{id}/costs/export: the FOCUS rows of a range as one CSV or Parquet file."""

import csv
import io
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from django.core.cache import cache

from costs.tests.conftest import SAMPLES, key_client
from focus.model import FOCUS_COLUMN_NAMES

NOVEMBER = {"start": "2023-11-01", "end": "2023-11-30"}


def _in_range(warehouse, dataset: str) -> tuple[int, Decimal]:
    count, total = 0, Decimal(0)
    for _, table in SAMPLES.values():
        row = warehouse.query(
            f"SELECT COUNT(*) AS n, SUM(BilledCost) AS s FROM {warehouse.quoted(dataset, table)} "
            "WHERE DATE(ChargePeriodStart) BETWEEN '2023-11-01' AND '2023-11-30'"
        ).rows[0]
        count += row["n"]
        total += Decimal(str(row["s"] or 0))
    return count, total


@pytest.mark.django_db
def test_export_is_the_ranges_focus_rows_as_csv_and_parquet(four_sources, warehouse):
    """Both formats hold exactly the range's rows of every FOCUS table (AWS and OCI in
    November 2023), FOCUS column names in order, costs to the cent."""
    client = key_client(four_sources.api_key)
    url = f"/api/v1/tenants/{four_sources.tenant.pk}/costs/export"
    rows, total = _in_range(warehouse, four_sources.dataset_id)
    assert rows == 1281 + 33

    response = client.get(url, {**NOVEMBER, "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    assert tuple(header) == FOCUS_COLUMN_NAMES
    body = [dict(zip(header, line, strict=True)) for line in reader]
    assert len(body) == rows
    assert sum(Decimal(r["BilledCost"]) for r in body).quantize(Decimal("0.01")) == total.quantize(
        Decimal("0.01")
    )
    assert {r["ProviderName"] for r in body} == {"AWS", "Oracle"}
    assert all(r["ChargePeriodStart"].startswith("2023-11-") for r in body)

    response = client.get(url, {**NOVEMBER, "format": "parquet"})
    assert response.status_code == 200
    table = pq.read_table(io.BytesIO(b"".join(response.streaming_content)))
    assert tuple(table.column_names) == FOCUS_COLUMN_NAMES
    assert table.num_rows == rows
    assert sum(table.column("BilledCost").to_pylist()) == total


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"start": "2023-01-01", "end": "2024-02-01"}, "longer than 13 months"),
        ({"start": "2024-02-02", "end": "2024-02-01"}, "is after end"),
        ({"start": "2024-01-01", "end": "2024-01-31", "format": "xlsx"}, "format: "),
        ({"end": "2024-01-31"}, "start: This field is required."),
    ],
)
def test_export_bad_parameters_are_a_400(onboard, params, named):
    onboarded = onboard()
    response = key_client(onboarded.api_key).get(
        f"/api/v1/tenants/{onboarded.tenant.pk}/costs/export", params
    )
    assert response.status_code == 400
    assert named in response.json()["detail"]


@pytest.mark.django_db
def test_export_counts_against_the_keys_rate_limit(onboard, settings):
    """Over the per-key limit, the export is refused with 429 and Retry-After."""
    onboarded = onboard()
    cache.clear()
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "key": "2/minute"}
    client = key_client(onboarded.api_key)
    url = f"/api/v1/tenants/{onboarded.tenant.pk}/costs/export"
    statuses = [client.get(url, NOVEMBER).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert client.get(url, NOVEMBER).has_header("Retry-After")
