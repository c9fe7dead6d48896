"""Cost anomaly detection on the emulator, over a 16-week fixture derived from the AWS sample."""

import dataclasses
import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from focus.anomalies import ANOMALIES, detection_sql
from pipelines.configs import pipeline_config_get
from pipelines.processors import StepContext, processor_for
from pipelines.processors.base import StepFailed
from pipelines.processors.focus_anomalies import FocusAnomalies
from pipelines.tests.history import aws_cur_days

DATA = Path(__file__).parent / "data"
START = dt.date(2024, 1, 1)  # a Monday
DAYS = 112
END = START + dt.timedelta(days=DAYS - 1)
SPIKE_DAY = END - dt.timedelta(days=3)
SAMPLE = "aws_sample_focus"
FOCUS = "aws_cost_focus"


def _step(**options):
    """The shipped AWS pipeline's anomaly step, with options changed for the test."""
    config = pipeline_config_get("aws", "cost", "focus")
    step = next(s for s in config.steps if s.ps_type == "focus.anomalies")
    merged = {**step.options, **options}
    assert FocusAnomalies.validate(merged) == []
    return dataclasses.replace(step, options=merged), config


def _context(warehouse, dataset, config, run_id="run-1") -> StepContext:
    return StepContext(
        warehouse=warehouse,
        tenant_id="acme",
        dataset_id=dataset,
        variables=dict(config.variables),
        run_id=run_id,
    )


@pytest.fixture
def sample_focus(warehouse, scratch_dataset, settings, tmp_path, db):
    """The AWS CUR sample (two weeks of November 2023), through the shipped FOCUS steps."""
    settings.PIPELINE_LOCAL_FILES_DIR = str(tmp_path)
    (tmp_path / "acme").mkdir()
    shutil.copy(DATA / "aws_cur_sample.csv", tmp_path / "acme" / "cur.csv")
    config = pipeline_config_get("aws", "cost", "focus")
    context = StepContext(
        warehouse=warehouse,
        tenant_id="acme",
        dataset_id=scratch_dataset,
        params=config.typed_parameters(
            config.resolve_parameters({"source_file": "cur.csv"}, tenant_id="acme")
        ),
        variables={**config.variables, "focus_table": SAMPLE},
        run_id="sample",
    )
    for step in config.steps[:4]:  # load, normalize, check, replace the period
        processor_for(step).run(context.for_step(step))
    return scratch_dataset


def _keys(warehouse, dataset) -> list[dict]:
    """The sample's usage lines per resource and SKU, average daily cost x 1000 (mid-size)."""
    return warehouse.query(
        "SELECT ServiceName AS service, ResourceId AS resource, SkuId AS sku, "
        "SUM(CAST(BilledCost AS FLOAT64)) / 14 * 1000 AS base "
        f"FROM {warehouse.quoted(dataset, SAMPLE)} WHERE ChargeCategory = 'Usage' "
        "GROUP BY ServiceName, ResourceId, SkuId"
    ).rows


def fixture_build(warehouse, dataset, *, spike: float, tag: str = "team") -> dict:
    """16 weeks of daily FOCUS rows: each sample line repeated daily, its cost perturbed ±8 %.

    One service is flat (no perturbation), one weekly-seasonal (Mondays x3); one resource of a
    third service gets ``spike`` added on SPIKE_DAY. Returns the services and the resource.
    """
    keys = _keys(warehouse, dataset)
    by_service: dict[str, float] = {}
    for key in keys:
        by_service[key["service"]] = by_service.get(key["service"], 0) + key["base"]
    ranked = sorted(by_service, key=lambda s: -by_service[s])
    seasonal, spiked, flat = ranked[0], ranked[1], ranked[2]
    resource = max(
        (k for k in keys if k["service"] == spiked), key=lambda k: (k["base"], k["resource"])
    )
    sample = warehouse.quoted(dataset, SAMPLE)
    focus = warehouse.quoted(dataset, FOCUS)
    warehouse.query(
        f"""CREATE OR REPLACE TABLE {focus} AS
WITH keys AS (
  SELECT ProviderName, ServiceName, SubAccountId, RegionId, ResourceId, SkuId,
    SUM(CAST(BilledCost AS FLOAT64)) / 14 * 1000 AS base,
    ROW_NUMBER() OVER (ORDER BY ServiceName, ResourceId, SkuId) AS k
  FROM {sample}
  WHERE ChargeCategory = 'Usage'
  GROUP BY ProviderName, ServiceName, SubAccountId, RegionId, ResourceId, SkuId
),
days AS (
  SELECT keys.*, d,
    IF(ServiceName = @flat, 1, 1 + 0.08 * (MOD(UNIX_DATE(d) * 7 + k * 13, 17) - 8) / 8)
      * IF(ServiceName = @seasonal AND EXTRACT(DAYOFWEEK FROM d) = 2, 3, 1) AS factor
  FROM keys CROSS JOIN UNNEST(GENERATE_DATE_ARRAY(@start, @end)) AS d
),
lines AS (
  SELECT ProviderName, ServiceName, SubAccountId, RegionId, ResourceId, SkuId, d,
    base * factor AS cost
  FROM days
  UNION ALL
  SELECT ProviderName, ServiceName, SubAccountId, RegionId, ResourceId, SkuId, @spike_day,
    @spike
  FROM keys
  WHERE ServiceName = @spiked AND ResourceId IS NOT DISTINCT FROM @resource
    AND SkuId IS NOT DISTINCT FROM @sku AND @spike > 0
)
SELECT
  TIMESTAMP(d) AS ChargePeriodStart,
  TIMESTAMP(DATE_ADD(d, INTERVAL 1 DAY)) AS ChargePeriodEnd,
  'Usage' AS ChargeCategory,
  ProviderName, ServiceName, SubAccountId, RegionId, ResourceId, SkuId,
  PARSE_JSON(IF(ServiceName = @spiked, '{{"{tag}": "data"}}', '{{"{tag}": "web"}}')) AS Tags,
  CAST(ROUND(cost, 6) AS NUMERIC) AS BilledCost,
  CAST(ROUND(cost, 6) AS NUMERIC) AS EffectiveCost
FROM lines""",
        {
            "start": START,
            "end": END,
            "flat": flat,
            "seasonal": seasonal,
            "spiked": spiked,
            "resource": resource["resource"],
            "sku": resource["sku"],
            "spike_day": SPIKE_DAY,
            "spike": float(spike),
        },
    )
    return {
        "seasonal": seasonal,
        "spiked": spiked,
        "flat": flat,
        "resource": resource["resource"],
        "sku": resource["sku"],
        "daily": by_service,
    }


def anomalies(warehouse, dataset) -> list[dict]:
    return warehouse.query(
        "SELECT series_key, day, provider, service, tag_key, tag_value, actual, expected, score, "
        "TO_JSON_STRING(top_contributors) AS top, detected_at "
        f"FROM {warehouse.quoted(dataset, ANOMALIES)} ORDER BY day, service"
    ).rows


def test_an_injected_spike_is_the_only_anomaly_with_its_top_contributor(warehouse, sample_focus):
    """Over 84 scored days, only the spiked series-day is flagged, led by the spiked resource.

    The flat and the weekly-seasonal (Mondays x3) services raise nothing.
    """
    made = fixture_build(warehouse, sample_focus, spike=0)
    spike = round(4 * made["daily"][made["spiked"]] + 50, 2)
    fixture_build(warehouse, sample_focus, spike=spike)
    step, config = _step(detect_days=DAYS - 28)

    result = processor_for(step).run(_context(warehouse, sample_focus, config).for_step(step))

    found = anomalies(warehouse, sample_focus)
    assert [(a["day"], a["service"]) for a in found] == [(SPIKE_DAY, made["spiked"])]
    anomaly = found[0]
    assert anomaly["provider"] == "AWS"
    assert anomaly["actual"] - anomaly["expected"] == pytest.approx(spike, rel=0.1)
    assert anomaly["score"] >= 3.5
    top = json.loads(anomaly["top"])
    assert top[0]["resource_id"] == (made["resource"] or "")
    assert top[0]["sku_id"] == (made["sku"] or "")
    assert top[0]["increase"] == pytest.approx(spike, rel=0.05)
    assert result.details["anomalies_in_window"] == 1
    # The seasonal service's Mondays really are three times its other days.
    assert made["seasonal"] != made["spiked"]


def test_a_rerun_records_the_anomaly_once_and_a_cleared_day_goes(warehouse, sample_focus):
    """Re-running keeps one row per series and day (its first detection time kept); when the
    data no longer shows the spike, the next run removes it."""
    made = fixture_build(warehouse, sample_focus, spike=0)
    fixture_build(warehouse, sample_focus, spike=4 * made["daily"][made["spiked"]] + 50)
    step, config = _step(detect_days=14)
    processor = processor_for(step)

    processor.run(_context(warehouse, sample_focus, config, "run-1").for_step(step))
    first = anomalies(warehouse, sample_focus)
    processor.run(_context(warehouse, sample_focus, config, "run-2").for_step(step))
    second = anomalies(warehouse, sample_focus)

    assert len(first) == len(second) == 1
    assert first[0]["detected_at"] == second[0]["detected_at"]
    assert first[0]["series_key"] == second[0]["series_key"]

    fixture_build(warehouse, sample_focus, spike=0)
    processor.run(_context(warehouse, sample_focus, config, "run-3").for_step(step))
    assert anomalies(warehouse, sample_focus) == []


def test_a_tag_key_splits_series_by_its_value(warehouse, sample_focus):
    """With ``tag_key``, the anomaly names the tag and the value of the spiked series."""
    made = fixture_build(warehouse, sample_focus, spike=0, tag="team")
    fixture_build(warehouse, sample_focus, spike=4 * made["daily"][made["spiked"]] + 50, tag="team")
    step, config = _step(detect_days=7, tag_key="team")

    processor_for(step).run(_context(warehouse, sample_focus, config).for_step(step))

    found = anomalies(warehouse, sample_focus)
    assert [(a["service"], a["tag_key"], a["tag_value"]) for a in found] == [
        (made["spiked"], "team", "data")
    ]


def test_small_jumps_are_not_anomalies(warehouse, sample_focus):
    """A spike below the absolute threshold is not flagged, however large its score."""
    made = fixture_build(warehouse, sample_focus, spike=0)
    fixture_build(warehouse, sample_focus, spike=4 * made["daily"][made["spiked"]] + 50)
    step, config = _step(detect_days=7, min_absolute=1e9)

    processor_for(step).run(_context(warehouse, sample_focus, config).for_step(step))

    assert anomalies(warehouse, sample_focus) == []


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"table": "other.x"}, "table"),
        ({"history_weeks": 1}, "history_weeks"),
        ({"z_threshold": "3"}, "z_threshold"),
        ({"cost_column": "ListCost"}, "cost_column"),
        ({"tag_key": "a'b"}, "tag_key"),
        ({"charge_categories": ["Nope"]}, "charge_categories"),
        ({"history_weeks": 4, "min_baseline_days": 6}, "min_baseline_days"),
        ({"threshold": 3}, "threshold"),
    ],
)
def test_bad_options_are_named(options, problem):
    """Each bad option is reported by name when the config loads."""
    step = {"table": "{focus_table}", **options}
    errors = FocusAnomalies.validate(step)
    assert any(e.startswith(problem) for e in errors), errors


def test_the_focus_table_is_partitioned_by_charge_day_and_clustered(warehouse, sample_focus):
    """The FOCUS table the shipped steps create is partitioned by the day of ChargePeriodStart
    and clustered by provider and service, so detection's day filter reads only its window."""
    partition, clustering = warehouse.table_layout(sample_focus, SAMPLE)
    assert partition == "ChargePeriodStart"
    assert clustering == ["ProviderName", "ServiceName"]
    detection = FocusAnomalies(_step()[0]).method()
    sql = detection_sql(
        detection, source="project-1.ds.aws_cost_focus", target="project-1.ds.x_anomalies"
    )
    # The filter is on the partitioning column itself, as BigQuery needs to prune.
    assert "WHERE ChargePeriodStart >= TIMESTAMP(@read_start)" in sql


def test_a_tenant_sets_its_own_options_in_its_provider_config(warehouse, sample_focus):
    """``anomaly_<option>`` settings of the tenant's provider config override the shipped
    step's options for that tenant only: a raised absolute threshold silences the spike,
    which another tenant (no settings) still gets; the run records what it used."""
    from tenants.models import ProviderConfig
    from tenants.services.audit import Actor
    from tenants.services.credentials import provider_config_set
    from tenants.tests.factories import TenantFactory

    made = fixture_build(warehouse, sample_focus, spike=0)
    fixture_build(warehouse, sample_focus, spike=4 * made["daily"][made["spiked"]] + 50)
    step, config = _step(detect_days=7)
    processor = processor_for(step)
    quiet = TenantFactory(id="acme")
    provider_config_set(
        tenant=quiet,
        provider="aws",
        settings={"anomaly_min_absolute": "1000000", "anomaly_history_weeks": "6"},
        notification_emails=[],
        credential=None,
        actor=Actor.system("test"),
    )
    TenantFactory(id="globex")

    def run(tenant_id: str):
        context = dataclasses.replace(
            _context(warehouse, sample_focus, config), tenant_id=tenant_id, provider="aws"
        )
        return processor.run(context.for_step(step))

    silenced = run("acme")
    assert silenced.details["anomalies_in_window"] == 0
    assert silenced.details["tenant_options"] == {"min_absolute": 1000000.0, "history_weeks": 6}
    assert anomalies(warehouse, sample_focus) == []
    flagged = run("globex")
    assert flagged.details["anomalies_in_window"] == 1
    assert "tenant_options" not in flagged.details

    # A setting stored around the service's check still cannot run: the step names it.
    ProviderConfig.objects.filter(tenant=quiet).update(settings={"anomaly_z_threshold": "high"})
    with pytest.raises(StepFailed, match=r"settings\.anomaly_z_threshold: must be a number"):
        run("acme")


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"anomaly_z_threshold": "high"}, "settings.anomaly_z_threshold: must be a number"),
        ({"anomaly_detect_days": "2.5"}, "settings.anomaly_detect_days: must be an integer"),
        ({"anomaly_min_absolute": "-1"}, "settings.anomaly_min_absolute: must be between 0"),
        ({"anomaly_z_threshold": "nan"}, "settings.anomaly_z_threshold: must be between"),
        ({"anomaly_cost_column": "ListCost"}, "settings.anomaly_cost_column"),
        ({"anomaly_charge_categories": "Usage,Bogus"}, "settings.anomaly_charge_categories"),
        ({"anomaly_tag_key": "a'b"}, "settings.anomaly_tag_key"),
        (
            {"anomaly_history_weeks": "3", "anomaly_min_baseline_days": "4"},
            "settings.anomaly_min_baseline_days: cannot exceed history_weeks",
        ),
        ({"anomaly_threshold": "3"}, "settings.anomaly_threshold: not an anomaly option"),
    ],
)
def test_bad_tenant_anomaly_settings_are_refused_by_the_api(onboard, settings, problem):
    """POST provider-configs answers 400 naming the setting; nothing is stored."""
    from tenants.models import ProviderConfig
    from tenants.tests.conftest import key_client

    onboarded = onboard()
    response = key_client(onboarded.api_key).post(
        f"/api/v1/tenants/{onboarded.tenant.pk}/provider-configs",
        {"provider": "aws", "settings": settings},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert problem in str(response.json())
    assert not ProviderConfig.objects.filter(tenant=onboarded.tenant).exists()


def test_good_tenant_anomaly_settings_are_stored(onboard):
    from tenants.tests.conftest import key_client

    onboarded = onboard()
    settings = {
        "anomaly_z_threshold": "5",
        "anomaly_tag_key": "team",
        "anomaly_charge_categories": "Usage, Purchase",
        "anomaly_cost_column": "EffectiveCost",
    }
    response = key_client(onboarded.api_key).post(
        f"/api/v1/tenants/{onboarded.tenant.pk}/provider-configs",
        {"provider": "aws", "settings": settings},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["settings"] == settings


def test_every_shipped_focus_pipeline_detects_anomalies_and_evaluates_budgets():
    """Each config that writes a FOCUS table scores it for anomalies after its checks, and its
    completed runs evaluate the tenant's budgets."""
    from pipelines.configs import pipeline_configs_all

    focus = [
        c for c in pipeline_configs_all() if any(s.ps_type == "focus.normalize" for s in c.steps)
    ]
    assert {c.key for c in focus} >= {"aws/cost/focus", "azure/cost/focus", "focus/cost/native"}
    for config in focus:
        types = [s.ps_type for s in config.steps if s.runs_on == "success"]
        assert types[-1] == "focus.anomalies", config.key
        anomaly = next(s for s in config.steps if s.ps_type == "focus.anomalies")
        assert anomaly.options["table"] == "{focus_table}", config.key
        # What the end of a run asks to decide whether budgets are evaluated.
        assert config.focus_table == config.variables["focus_table"], config.key


@pytest.mark.django_db
def test_anomalies_are_found_over_the_history_built_by_sixteen_weekly_loads(
    warehouse, scratch_dataset, settings, tmp_path
):
    """16 weekly loads of month-to-date CURs (a week crossing a month carries both months)
    build 112 days of history through the shipped pipeline; the last load's detection scores
    its week against that history and flags only the spiked line's service on its day."""
    settings.PIPELINE_LOCAL_FILES_DIR = str(tmp_path)
    (tmp_path / "acme").mkdir()
    config = pipeline_config_get("aws", "cost", "focus")
    spike = 600
    for week in range(1, 17):
        first_day = START + dt.timedelta(days=7 * (week - 1))
        last_day = START + dt.timedelta(days=7 * week - 1)
        name = f"cur-week-{week:02d}.csv"
        aws_cur_days(
            tmp_path / "acme" / name,
            first_day.replace(day=1),
            last_day,
            spike_day=SPIKE_DAY,
            spike=spike,
        )
        context = StepContext(
            warehouse=warehouse,
            tenant_id="acme",
            dataset_id=scratch_dataset,
            params=config.typed_parameters(
                config.resolve_parameters({"source_file": name}, tenant_id="acme")
            ),
            variables=dict(config.variables),
            run_id=f"week-{week}",
        )
        results = {
            step.step_id: processor_for(step).run(context.for_step(step))
            for step in config.steps
            if step.runs_on == "success"
        }

    days = warehouse.query(
        "SELECT COUNT(DISTINCT DATE(ChargePeriodStart)) AS days, "
        "COUNT(DISTINCT BillingPeriodStart) AS months "
        f"FROM {warehouse.quoted(scratch_dataset, FOCUS)}"
    ).rows[0]
    assert days == {"days": DAYS, "months": 4}
    found = anomalies(warehouse, scratch_dataset)
    assert [a["day"] for a in found] == [SPIKE_DAY]
    assert found[0]["actual"] - found[0]["expected"] == pytest.approx(spike, rel=0.15)
    assert results["detect_anomalies"].details["anomalies_in_window"] == 1
