"""Fixtures for the project-wide tests: onboarded tenants and API clients."""

from tenants.tests.conftest import api_client, onboard, staff_client  # noqa: F401
