"""Test data for the scheduling app: tenants on a made-to-measure plan, schedules by service."""

from datetime import datetime

from scheduling.models import Schedule
from scheduling.services.schedules import schedule_create
from tenants.models import Tenant
from tenants.services.audit import Actor
from tenants.services.credentials import provider_config_set
from tenants.tests.factories import PlanFactory, TenantFactory

TEST_ACTOR = Actor.system("test")
PIPELINE = {"provider": "example", "domain": "demo", "pipeline": "hello"}
# A second pipeline, for tests that need two schedules of one tenant (it reads the GCP
# provider config's billing export table, which make_schedule stores).
OTHER_PIPELINE = {"provider": "gcp", "domain": "cost", "pipeline": "billing"}
GCP_SETTINGS = {"billing_export_table": "billing-project.billing.gcp_billing_export_v1"}


def tenant_on_plan(
    *, runs_per_day: int = 6, runs_per_month: int = 180, concurrent_runs: int = 1, **kwargs
) -> Tenant:
    plan = PlanFactory(
        runs_per_day=runs_per_day, runs_per_month=runs_per_month, concurrent_runs=concurrent_runs
    )
    return TenantFactory(subscription__plan=plan, **kwargs)


def make_schedule(*, tenant: Tenant, now: datetime, **kwargs) -> Schedule:
    """A schedule of the example pipeline, created through ``schedule_create``."""
    fields = {**PIPELINE, "cron": "0 * * * *", **kwargs}
    if fields["provider"] == "gcp":
        provider_config_set(
            tenant=tenant,
            provider="gcp",
            settings=GCP_SETTINGS,
            notification_emails=[],
            credential=None,
            actor=TEST_ACTOR,
        )
    if "timezone" in fields:
        fields["tz_name"] = fields.pop("timezone")
    return schedule_create(tenant=tenant, actor=TEST_ACTOR, now=now, **fields)
