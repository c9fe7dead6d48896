"""Rate limits: per key and per address on the API, per address on the webhook; 429 with
Retry-After, counted in the shared cache."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from billing.models import InvalidDelivery
from tenants.tests.conftest import key_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counts():
    cache.clear()
    yield
    cache.clear()


def test_key_over_its_rate_gets_429_with_retry_after(settings, onboard):
    settings.API_THROTTLE_RATES = {"key": "3/minute", "address": None, "webhook": None}
    a, b = onboard(), onboard()
    client = key_client(a.api_key)
    url = f"/api/v1/tenants/{a.tenant.id}/usage"
    assert [client.get(url).status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get(url)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "throttled" in refused.json()["detail"].lower()
    # Another key has its own budget.
    assert key_client(b.api_key).get(f"/api/v1/tenants/{b.tenant.id}/usage").status_code == 200


def test_address_over_its_rate_gets_429(settings, onboard):
    settings.API_THROTTLE_RATES = {"key": None, "address": "2/minute", "webhook": None}
    a, b = onboard(), onboard()
    assert key_client(a.api_key).get(f"/api/v1/tenants/{a.tenant.id}/usage").status_code == 200
    assert key_client(b.api_key).get(f"/api/v1/tenants/{b.tenant.id}/usage").status_code == 200
    third = APIClient().get("/health")
    assert third.status_code == 429 and "Retry-After" in third
    other = APIClient(REMOTE_ADDR="10.0.0.9").get(f"/api/v1/tenants/{a.tenant.id}/usage")
    assert other.status_code == 401  # a different address is not throttled


def test_invalid_keys_are_counted_per_address_before_authentication(settings, onboard):
    """Guessing keys from one address runs into the address limit: the 401s count, and the
    third request is a 429 even with a valid key (DRF alone would check after the key)."""
    settings.API_THROTTLE_RATES = {"key": None, "address": "2/minute", "webhook": None}
    a = onboard()
    url = f"/api/v1/tenants/{a.tenant.id}/usage"
    guesses = [key_client("sk_nope_" + "x" * 40).get(url) for _ in range(2)]
    assert [r.status_code for r in guesses] == [401, 401]
    refused = key_client(a.api_key).get(url)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "throttled" in refused.json()["detail"].lower()


def test_webhook_is_throttled_per_address(settings):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_throttle"
    settings.API_THROTTLE_RATES = {"key": None, "address": None, "webhook": "2/minute"}
    client = APIClient()
    url = "/api/v1/billing/stripe/webhook"
    codes = [client.post(url, "{}", content_type="application/json").status_code for _ in range(3)]
    assert codes == [400, 400, 429]
    assert InvalidDelivery.objects.count() <= 2
