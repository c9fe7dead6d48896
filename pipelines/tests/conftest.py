"""Fixtures for pipelines tests; tenant onboarding comes from the tenants tests."""

from tenants.tests.conftest import api_client, onboard, staff_client  # noqa: F401
