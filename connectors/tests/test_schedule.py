"""A sync is scheduled like any pipeline, by default every six hours: the cron the connection
check proposes."""

import pytest

from connectors.services.stores import PROPOSED_SCHEDULE
from scheduling.services.schedules import schedule_create
from tenants.services.audit import Actor

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("provider", ["aws", "azure", "focus", "oci"])
def test_each_sync_schedules_every_six_hours_by_default(onboard, provider):
    """aws, azure and focus syncs and a FOCUS mapping's (oci/cost/sync) take the proposed
    schedule when none is given."""
    onboarded = onboard(plan="PROFESSIONAL")
    schedule = schedule_create(
        tenant=onboarded.tenant,
        provider=provider,
        domain="cost",
        pipeline="sync",
        actor=Actor.system("test"),
    )
    assert schedule.cron == PROPOSED_SCHEDULE == "0 */6 * * *"
