"""Fixtures for the mappings tests: onboarded tenants and their API clients."""

from tenants.tests.conftest import api_client, onboard, staff_client  # noqa: F401
