"""Bad input to the scheduler API: dates and durations out of range are 400s, not overflows."""

import pytest

from scheduling.models import ScheduledRun
from tenants.tests.conftest import key_client

pytestmark = [pytest.mark.django_db]

BODY = {
    "provider": "example",
    "domain": "demo",
    "pipeline": "hello",
    "cron": "30 2 * * *",
    "timezone": "UTC",
}


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("0001-01-01", "2024-01-02", "start_date"),
        ("2024-01-01", "9999-12-31", "end_date"),
        ("1999-12-31", "2024-01-02", "start_date"),
    ],
)
def test_backfill_with_extreme_dates_is_400(onboard, staff_client, start, end, field):
    """Backfill from 0001-01-01 or to 9999-12-31 used to overflow (500)."""
    tenant = onboard()
    created = key_client(tenant.api_key).post(
        f"/api/v1/scheduler/tenant/{tenant.tenant.id}/pipelines", BODY, format="json"
    )
    assert created.status_code == 201, created.json()
    config_id = created.json()["config_id"]
    response = staff_client.post(
        f"/api/v1/scheduler/tenant/{tenant.tenant.id}/pipelines/{config_id}/backfill",
        {"start_date": start, "end_date": end},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"{field}: Must be between 2000-01-01")
    assert not ScheduledRun.objects.exists()


@pytest.mark.parametrize("minutes", [1_000_000_000_000, 0, "10"])
def test_cleanup_with_out_of_range_minutes_is_400(staff_client, minutes):
    """``stale_after_minutes: 1000000000000`` used to overflow timedelta (500)."""
    response = staff_client.post(
        "/api/v1/scheduler/cleanup-orphaned-pipelines",
        {"stale_after_minutes": minutes},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("stale_after_minutes")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BODY, "cron": ""}, "cron"),
        ({**BODY, "timezone": ""}, "timezone"),
        ({**BODY, "timezone": "Mars/Olympus"}, "timezone"),
        ({**BODY, "provider": ""}, "provider"),
        ({**BODY, "priority": "5"}, "priority"),
        ({**BODY, "every": "day"}, "every"),
    ],
)
def test_schedule_create_refuses_what_the_schema_forbids(onboard, body, field):
    tenant = onboard()
    response = key_client(tenant.api_key).post(
        f"/api/v1/scheduler/tenant/{tenant.tenant.id}/pipelines", body, format="json"
    )
    assert response.status_code == 400, response.json()
    assert response.json()["detail"].startswith(field)
