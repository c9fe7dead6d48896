"""The schedule admin: cron in words, the next five runs, and the backfill action."""

import pytest

from scheduling.models import ScheduledRun
from scheduling.tests.conftest import T0
from scheduling.tests.factories import make_schedule

pytestmark = pytest.mark.django_db


def test_change_page_shows_cron_in_words_and_next_five_runs(admin_client, roomy_tenant):
    """The change page describes the cron and lists five upcoming run times."""
    schedule = make_schedule(
        tenant=roomy_tenant, now=T0, cron="30 2 * * *", timezone="Europe/London"
    )
    page = admin_client.get(f"/admin/scheduling/schedule/{schedule.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "At 02:30 AM" in html
    assert html.count("local)</div>") == 5


def test_backfill_action_queues_slots_for_the_date_range(admin_client, roomy_tenant):
    """The changelist action with a start and end date queues one slot per cron time."""
    schedule = make_schedule(tenant=roomy_tenant, now=T0, cron="0 6 * * *")
    response = admin_client.post(
        "/admin/scheduling/schedule/",
        {
            "action": "backfill",
            "_selected_action": [schedule.pk],
            "start_date": "2024-05-01",
            "end_date": "2024-05-04",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert ScheduledRun.objects.filter(schedule=schedule, kind="backfill").count() == 4
