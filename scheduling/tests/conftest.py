"""Fixtures for the scheduling tests: tenants on a given plan, schedules, a fixed clock."""

from datetime import UTC, datetime

import pytest

from scheduling.tests.factories import tenant_on_plan
from tenants.tests.conftest import api_client, onboard, staff_client  # noqa: F401

T0 = datetime(2024, 6, 3, 8, 0, tzinfo=UTC)


@pytest.fixture
def roomy_tenant(db):
    """A tenant whose limits never get in the way (the schedule under test decides)."""
    return tenant_on_plan(runs_per_day=10_000, runs_per_month=100_000, concurrent_runs=10_000)
