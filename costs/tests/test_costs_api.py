"""GET /api/v1/tenants/{id}/costs on the emulator, over FOCUS tables the real pipelines wrote."""

import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest
from django.core.cache import cache

from costs.query import MAX_GROUPS
from costs.tests.conftest import SAMPLES, key_client
from focus.model import FOCUS_COLUMNS
from pipelines.signals import run_finished

CENT = Decimal("0.01")
# Every sample's charges: Azure 2023-09-02 .. native FOCUS 2024-09-30 (13 months).
WHOLE = {"start": "2023-09-01", "end": "2024-09-30"}


def _url(tenant_id: str) -> str:
    return f"/api/v1/tenants/{tenant_id}/costs"


def _get(client, tenant_id: str, **params):
    return client.get(_url(tenant_id), params)


def _direct(warehouse, dataset: str, period_sql: str, key_sql: str, metric="BilledCost") -> dict:
    """(period, currency, key) -> sum of ``metric`` over the four FOCUS tables, summed in the
    warehouse straight from the tables (not through the costs code)."""
    sums: dict = {}
    for _, table in SAMPLES.values():
        rows = warehouse.query(
            f"SELECT {period_sql} AS p, BillingCurrency AS c, {key_sql} AS k, "
            f"SUM({metric}) AS s FROM {warehouse.quoted(dataset, table)} GROUP BY p, c, k"
        ).rows
        for r in rows:
            key = (str(r["p"]) if r["p"] is not None else None, r["c"], r["k"])
            sums[key] = sums.get(key, Decimal(0)) + Decimal(str(r["s"]))
    return sums


def _answered(body: dict, metric="BilledCost") -> dict:
    out = {}
    for currency in body["currencies"]:
        for series in currency["series"]:
            key = next(iter(series["group"].values())) if series["group"] else None
            for point in series["points"]:
                out[(point["period"], currency["currency"], key)] = Decimal(point[metric])
    return out


def _cents(sums: dict) -> dict:
    return {k: v.quantize(CENT) for k, v in sums.items()}


@pytest.mark.django_db
def test_costs_per_day_and_month_by_provider_and_tag_equal_the_focus_tables(
    four_sources, warehouse
):
    """Per day and per month, grouped by provider, and in total by a tag key, the answer is
    the FOCUS tables' own sums to the cent, per currency (the Azure sample bills in CAD, the
    rest in USD: never added together); every source's period is reported."""
    tenant_id, dataset = four_sources.tenant.pk, four_sources.dataset_id
    client = key_client(four_sources.api_key)
    cache.clear()

    daily = _get(client, tenant_id, **WHOLE, granularity="day", group_by="ProviderName")
    assert daily.status_code == 200, daily.content
    body = daily.json()
    expected = _direct(warehouse, dataset, "DATE(ChargePeriodStart)", "ProviderName")
    assert _cents(_answered(body)) == _cents(expected)
    assert {c["currency"] for c in body["currencies"]} == {"CAD", "USD"}
    assert {s["group"]["ProviderName"] for c in body["currencies"] for s in c["series"]} == {
        "AWS",
        "Microsoft",
        "Oracle",
    }
    for currency in body["currencies"]:
        table_total = sum(
            (v for (_, c, _), v in expected.items() if c == currency["currency"]), Decimal(0)
        )
        assert Decimal(currency["totals"]["BilledCost"]).quantize(CENT) == table_total.quantize(
            CENT
        )
    assert body["coverage"] == [
        {"provider": "aws", "first_day": "2023-11-01", "last_day": "2023-11-14"},
        {"provider": "azure", "first_day": "2023-09-02", "last_day": "2023-09-02"},
        {"provider": "focus", "first_day": "2024-09-01", "last_day": "2024-09-30"},
        {"provider": "oci", "first_day": "2023-11-13", "last_day": "2023-11-13"},
    ]
    assert body["groups"] == len(expected)
    assert isinstance(body["bytes_processed"], int)

    monthly = _get(
        client,
        tenant_id,
        **WHOLE,
        granularity="month",
        group_by="ProviderName",
        metric=["BilledCost", "EffectiveCost"],
    ).json()
    month = "DATE_TRUNC(DATE(ChargePeriodStart), MONTH)"
    assert _cents(_answered(monthly)) == _cents(_direct(warehouse, dataset, month, "ProviderName"))
    assert _cents(_answered(monthly, "EffectiveCost")) == _cents(
        _direct(warehouse, dataset, month, "ProviderName", "EffectiveCost")
    )
    assert {
        p["period"] for c in monthly["currencies"] for s in c["series"] for p in s["points"]
    } == {
        "2023-09-01",
        "2023-11-01",
        "2024-09-01",
    }

    tagged = _get(
        client, tenant_id, **WHOLE, granularity="total", group_by="Tags.environment"
    ).json()
    by_tag = _direct(warehouse, dataset, "NULL", "JSON_VALUE(Tags, '$.environment')")
    assert _cents(_answered(tagged)) == _cents(by_tag)
    assert {"dev", "prod"} <= {k for (_, _, k) in by_tag}


@pytest.mark.django_db
def test_filters_and_currency_narrow_the_rows(four_sources, warehouse):
    """equals / in / not filters, a tag filter and a currency keep exactly the rows named."""
    tenant_id, dataset = four_sources.tenant.pk, four_sources.dataset_id
    client = key_client(four_sources.api_key)
    everything = _direct(warehouse, dataset, "NULL", "ProviderName")

    def total(**params) -> dict:
        body = _get(client, tenant_id, **WHOLE, granularity="total", **params).json()
        return {c["currency"]: Decimal(c["totals"]["BilledCost"]) for c in body["currencies"]}

    def expected(keep) -> dict:
        sums: dict = {}
        for (_, currency, provider), value in everything.items():
            if keep(provider):
                sums[currency] = sums.get(currency, Decimal(0)) + value
        return _cents(sums)

    assert _cents(total(filter=json.dumps({"ProviderName": "Oracle"}))) == expected(
        lambda p: p == "Oracle"
    )
    assert _cents(total(filter=json.dumps({"ProviderName": ["AWS", "Microsoft"]}))) == expected(
        lambda p: p in ("AWS", "Microsoft")
    )
    assert _cents(total(filter=json.dumps({"ProviderName": {"not": "AWS"}}))) == expected(
        lambda p: p != "AWS"
    )
    cad = total(currency="CAD")
    assert set(cad) == {"CAD"}
    assert _cents(cad) == {"CAD": expected(lambda p: p == "Microsoft")["CAD"]}
    tag = _direct(warehouse, dataset, "NULL", "JSON_VALUE(Tags, '$.environment')")
    assert _cents(total(filter=json.dumps({"Tags.environment": "prod"}))) == _cents(
        {c: v for (_, c, k), v in tag.items() if k == "prod"}
    )


@pytest.mark.django_db
def test_answers_are_cached_until_a_run_writes_focus(four_sources, warehouse):
    """A second ask is served from the cache, even after the table changed behind its back;
    a finished run that wrote FOCUS retires it, one that did not leaves it."""
    tenant_id, dataset = four_sources.tenant.pk, four_sources.dataset_id
    client = key_client(four_sources.api_key)
    cache.clear()
    params = {**WHOLE, "granularity": "total", "currency": "CAD"}
    first = _get(client, tenant_id, **params).json()
    assert first["cached"] is False
    warehouse.query(
        f"UPDATE {warehouse.quoted(dataset, 'azure_cost_focus')} "
        "SET BilledCost = BilledCost + 1 WHERE TRUE"
    )
    again = _get(client, tenant_id, **params).json()
    assert again["cached"] is True
    assert again["currencies"] == first["currencies"]

    # Receivers take the run id as a run's (a UUID), as the engine sends it.
    run_id = str(uuid.uuid4())
    run_finished.send(
        sender=None, run_id=run_id, tenant_id=tenant_id, status="FAILED", wrote_focus=False
    )
    assert _get(client, tenant_id, **params).json()["cached"] is True
    run_finished.send(
        sender=None, run_id=run_id, tenant_id=tenant_id, status="COMPLETED", wrote_focus=True
    )
    fresh = _get(client, tenant_id, **params).json()
    assert fresh["cached"] is False
    added = Decimal(fresh["currencies"][0]["totals"]["BilledCost"]) - Decimal(
        first["currencies"][0]["totals"]["BilledCost"]
    )
    assert added == 27  # one more per Azure row


@pytest.mark.django_db
def test_another_tenants_key_gets_404(onboard, warehouse):
    """A key of tenant A on tenant B's costs and export: 404, naming nothing of B."""
    a, b = onboard(), onboard()
    client = key_client(a.api_key)
    for path in (_url(b.tenant.pk), _url(b.tenant.pk) + "/export"):
        response = client.get(path, WHOLE)
        assert response.status_code == 404
        assert b.tenant.pk not in response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"group_by": "Region"}, "Unknown dimension 'Region'"),
        ({"start": "2023-01-01", "end": "2024-02-01"}, "longer than 13 months"),
        (
            {"group_by": ["ProviderName", "ServiceName", "RegionId", "ResourceId"]},
            "group_by: Ensure this field has no more than 3 elements.",
        ),
        ({"group_by": "Tags.team`x"}, "'Tags.team`x': a tag key is"),
        ({"filter": json.dumps({"Tags.a`b": "x"})}, "filter: 'Tags.a`b': a tag key is"),
        ({"start": "2024-02-02", "end": "2024-02-01"}, "start (2024-02-02) is after end"),
        ({"metric": "Cost"}, 'metric.0: "Cost" is not a valid choice.'),
        ({"granularity": "week"}, "granularity: "),
        ({"filter": "{not json"}, "filter: Must be a JSON object"),
        ({"filter": json.dumps({"ServiceName": {"is": "x"}})}, "filter: ServiceName: an object"),
        ({"filter": json.dumps({"ServiceName": []})}, "filter: ServiceName: give a string"),
        ({"currency": "usd"}, "currency: "),
        ({"group_by": ["ServiceName", "ServiceName"]}, "named twice"),
        ({"colour": "red"}, "colour: Unknown query parameter."),
        ({"start": "2024-02-30"}, "start: "),
    ],
)
def test_bad_parameters_are_a_400_naming_them(onboard, params, named):
    """Each bad parameter is a 400 whose detail names it; nothing reaches the warehouse."""
    onboarded = onboard()
    query = {"start": "2024-01-01", "end": "2024-01-31", **params}
    response = _get(key_client(onboarded.api_key), onboarded.tenant.pk, **query)
    assert response.status_code == 400, response.content
    assert named in response.json()["detail"]


@pytest.mark.django_db
def test_missing_range_is_a_400(onboard):
    onboarded = onboard()
    response = key_client(onboarded.api_key).get(_url(onboarded.tenant.pk))
    assert response.status_code == 400
    assert "start: This field is required." in response.json()["detail"]


@pytest.mark.django_db
def test_more_than_10000_groups_is_a_400_naming_the_limit(onboard, warehouse):
    """10,001 resources on one day grouped by ResourceId: refused, naming the limit; 10,000
    are answered."""
    onboarded = onboard()
    table = warehouse.quoted(onboarded.dataset_id, "aws_cost_focus")
    warehouse.table_create(onboarded.dataset_id, "aws_cost_focus", list(FOCUS_COLUMNS))
    warehouse.query(
        f"INSERT INTO {table} (ChargePeriodStart, BillingCurrency, ResourceId, BilledCost) "
        "SELECT TIMESTAMP('2024-01-05'), 'USD', CONCAT('r-', CAST(n AS STRING)), "
        "CAST(1 AS NUMERIC) FROM UNNEST(GENERATE_ARRAY(1, @n)) AS n",
        {"n": MAX_GROUPS + 1},
    )
    client = key_client(onboarded.api_key)
    params = {"start": "2024-01-01", "end": "2024-01-31", "group_by": "ResourceId"}
    response = _get(client, onboarded.tenant.pk, **params)
    assert response.status_code == 400
    assert f"more than {MAX_GROUPS} groups" in response.json()["detail"]
    warehouse.query(f"DELETE FROM {table} WHERE ResourceId = 'r-1'")
    response = _get(client, onboarded.tenant.pk, **params, granularity="total")
    assert response.status_code == 200
    assert response.json()["groups"] == MAX_GROUPS
    assert response.json()["currencies"][0]["totals"]["BilledCost"].startswith("10000")


@pytest.mark.django_db
def test_no_focus_table_yet_is_an_empty_answer(onboard):
    onboarded = onboard()
    body = _get(key_client(onboarded.api_key), onboarded.tenant.pk, **WHOLE).json()
    assert body["currencies"] == [] and body["coverage"] == [] and body["groups"] == 0


@pytest.mark.django_db
def test_staff_reads_any_tenant(onboard, staff_client):
    onboarded = onboard()
    response = staff_client.get(_url(onboarded.tenant.pk), WHOLE)
    assert response.status_code == 200
    assert response.json()["tenant_id"] == onboarded.tenant.pk
    assert _get(staff_client, "no_such_tenant", **WHOLE).status_code == 404


def test_range_rule_allows_13_months_and_no_more():
    """2023-09-01 .. 2024-09-30 is 13 months; one more day is refused."""
    from costs.query import CostQuery, CostQueryInvalid

    CostQuery(start=dt.date(2023, 9, 1), end=dt.date(2024, 9, 30))
    with pytest.raises(CostQueryInvalid):
        CostQuery(start=dt.date(2023, 9, 1), end=dt.date(2024, 10, 1))
