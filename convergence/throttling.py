"""Request rate limits on the shared cache (Redis in production): per key and per address.

DRF's throttle interface, with the rates read from settings at request time (DRF reads them
once at import). Over a limit the answer is 429 with ``Retry-After``. The per-address limit
runs before authentication (``convergence.middleware.AddressThrottleMiddleware``), so requests
with an invalid key are counted too; DRF checks throttles only after a key was accepted.

Counted per fixed window (the rate's second, minute, hour or day): one atomic increment per
request and throttle. DRF's ``SimpleRateThrottle`` keeps the time of every request in the
window as one cached list, read, unpickled, pickled and written back on every request, so
at 1,200 a minute each request moved ~10 KB through the cache twice. The cost of the fixed
window: just after a window turns, a client may get up to its rate again at once (at most
twice the rate over a short span), which a sliding log would have refused.
"""

import time

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import SimpleRateThrottle


class _SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        return settings.API_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        now = time.time()
        window = int(now // self.duration)
        self.wait_seconds = (window + 1) * self.duration - now
        return _count(f"{ident}:{window}", ttl=self.duration + 1) <= self.num_requests

    def wait(self) -> float:
        return getattr(self, "wait_seconds", self.duration)


def _count(key: str, *, ttl: int) -> int:
    """Add one to the count at ``key`` (made with ``ttl`` seconds to live); the new count."""
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        # One round trip: INCR makes a missing key at 0, EXPIRE NX sets its life once.
        # Django's own incr asks EXISTS first, and its add is a third command.
        name = cache.make_and_validate_key(key)
        with cache._cache.get_client(name, write=True).pipeline() as pipe:
            count, _ = pipe.incr(name).expire(name, ttl, nx=True).execute()
        return count
    try:
        return cache.incr(key)
    except ValueError:  # the window's first request
        if cache.add(key, 1, timeout=ttl):
            return 1
        return cache.incr(key)


class KeyRateThrottle(_SettingsRateThrottle):
    """Per API key, admin key or staff user."""

    scope = "key"

    def get_cache_key(self, request, view) -> str | None:
        user = request.user
        key = getattr(user, "key", None)
        if key is not None:
            ident = f"{type(key).__name__}:{key.pk}"
        elif getattr(user, "is_authenticated", False):
            ident = f"user:{user.pk}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AddressRateThrottle(_SettingsRateThrottle):
    """Per client address (``REMOTE_ADDR``, or ``X-Forwarded-For`` as DRF's NUM_PROXIES says)."""

    scope = "address"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class WebhookAddressRateThrottle(AddressRateThrottle):
    """The Stripe webhook's own budget per address, apart from the API's."""

    scope = "webhook"
