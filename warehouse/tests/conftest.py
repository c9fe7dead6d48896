"""Fixtures for these tests: onboarded tenants and API clients come from the tenants tests."""

from tenants.tests.conftest import api_client, onboard, staff_client  # noqa: F401
