"""Rate limits: per key and per address on the API, per address on the webhook; 429 with
Retry-After, counted in the shared cache."""

import os
import uuid

import pytest
import redis
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


@pytest.fixture
def redis_cache(_fresh_counts, settings):
    """The default cache on Redis, as in production (the Redis of CELERY_BROKER_URL, under a
    prefix of this test's own, so nothing else's keys are touched; ``_fresh_counts`` clears
    the cache only before and after, when it is not this one)."""
    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith("redis://"):
        pytest.skip("needs Redis: set CELERY_BROKER_URL=redis://... (the CI run does)")
    prefix = f"t{uuid.uuid4().hex[:12]}"
    settings.CACHES = {
        "default": {
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix,
        }
    }
    return prefix


def _commands(url: str, prefix: str, send) -> list[str]:
    """The commands Redis received from clients (not from inside scripts) that name a key
    under ``prefix`` while ``send()`` ran, as Redis' MONITOR shows them."""
    seen: list[str] = []
    marker = f"marker-{prefix}"
    with redis.Redis.from_url(url).monitor() as m:
        send()
        redis.Redis.from_url(url).get(marker)  # the end of what send() sent
        for event in m.listen():
            command = event["command"]
            if marker in command:
                break
            if prefix in command and event.get("client_type") != "lua":
                seen.append(command.split()[0])
    return seen


def test_a_known_key_costs_one_redis_round_trip(redis_cache, onboard):
    """With the key's row cached, a request's address limit, key read and key limit are one
    Redis command (the script); the request before it read the key from the database."""
    a = onboard()
    client = key_client(a.api_key)
    url = f"/api/v1/tenants/{a.tenant.id}/runs"
    assert client.get(url).status_code == 200  # reads the key's row, caches it
    commands = _commands(
        os.environ["CELERY_BROKER_URL"], redis_cache, lambda: client.get(url).status_code
    )
    assert commands == ["EVALSHA"]


def test_on_redis_key_limit_exact_address_first_revocation_at_once(redis_cache, settings, onboard):
    """The limits on the one-round-trip path: a key gets exactly its rate, counted whether
    its row came from the cache or the database; another key has its own; a revoked key is
    refused at once though its row was cached; guesses count against the address first."""
    from tenants.services.audit import Actor
    from tenants.services.keys import api_key_issue, key_revoke

    settings.API_THROTTLE_RATES = {"key": "3/minute", "address": None, "webhook": None}
    a, b = onboard(), onboard()
    url = f"/api/v1/tenants/{a.tenant.id}/usage"
    client = key_client(a.api_key)
    assert [client.get(url).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert key_client(b.api_key).get(f"/api/v1/tenants/{b.tenant.id}/usage").status_code == 200

    spare = api_key_issue(tenant=a.tenant, actor=Actor.system("test"))
    assert key_client(spare.plaintext).get(url).status_code == 200  # now cached
    key_revoke(key=spare.record, actor=Actor.system("test"))
    assert key_client(spare.plaintext).get(url).status_code == 401

    settings.API_THROTTLE_RATES = {"key": "100/minute", "address": "2/minute", "webhook": None}
    other = APIClient(REMOTE_ADDR="10.0.0.7")
    other.credentials(HTTP_X_API_KEY=spare.plaintext)
    assert [other.get(url).status_code for _ in range(2)] == [401, 401]
    other.credentials(HTTP_X_API_KEY=b.api_key)
    refused = other.get(f"/api/v1/tenants/{b.tenant.id}/usage")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
