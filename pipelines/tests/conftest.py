"""Fixtures for pipelines tests; tenant onboarding comes from the tenants tests."""

from pipelines.tests.test_isolation_walk import world  # noqa: F401
from tenants.tests.conftest import api_client, onboard, staff_client  # noqa: F401
from warehouse.tests.test_s3 import iam_server, on_iam_server  # noqa: F401
