"""Request rate limits on the shared cache (Redis in production): per key and per address.

DRF's throttle interface, with the rates read from settings at request time (DRF reads them
once at import). Over a limit the answer is 429 with ``Retry-After``. The per-address limit
runs before authentication (``core.middleware.AddressThrottleMiddleware``), so requests
with an invalid key are counted too; DRF checks throttles only after a key was accepted.

Counted per fixed window (the rate's second, minute, hour or day): one atomic increment per
request and throttle. DRF's ``SimpleRateThrottle`` keeps the time of every request in the
window as one cached list, read, unpickled, pickled and written back on every request, so
at 1,200 a minute each request moved ~10 KB through the cache twice. The cost of the fixed
window: just after a window turns, a client may get up to its rate again at once (at most
twice the rate over a short span), which a sliding log would have refused.

One round trip per request for a known key (``address_check``): with Redis, the per-address
count, the read of the key's cached row (``tenants.services.keys``) and, when that row is
there and the address is within its limit, the per-key count are one Lua script. What
changes against three separate calls: a request refused after its key was accepted (403 by
a permission) is counted against the key too; a request whose key row was not cached is
counted when DRF checks the key's limit, as before.
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import SimpleRateThrottle


class _SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        return settings.API_THROTTLE_RATES.get(self.scope)

    def window_counter(self, ident: str, now: float) -> str:
        """The name of ``ident``'s counter for the window holding ``now``."""
        window = int(now // self.duration)
        self.wait_seconds = (window + 1) * self.duration - now
        return f"{ident}:{window}"

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        name = self.window_counter(ident, time.time())
        # Counted already in the address check's round trip (``address_check``)? If the
        # window turned in between, the request is counted in the new one as well.
        count = getattr(request, "rate_counts", {}).get(name)
        if count is None:
            count = _count(name, ttl=self.duration + 1)
        return count <= self.num_requests

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
            return self.key_ident(type(key).__name__, key.key_hash)
        if getattr(user, "is_authenticated", False):
            return self.cache_format % {"scope": self.scope, "ident": f"user:{user.pk}"}
        return None

    def key_ident(self, model_name: str, digest: str) -> str:
        """A key's counter, by its hash: known before the key's row is read."""
        return self.cache_format % {"scope": self.scope, "ident": f"{model_name}:{digest}"}


class AddressRateThrottle(_SettingsRateThrottle):
    """Per client address (``REMOTE_ADDR``, or ``X-Forwarded-For`` as DRF's NUM_PROXIES says)."""

    scope = "address"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class WebhookAddressRateThrottle(AddressRateThrottle):
    """The Stripe webhook's own budget per address, apart from the API's."""

    scope = "webhook"


@dataclass(frozen=True)
class KeyAhead:
    """A request's key as its authentication class reads it, known before authentication:
    the name of its cached row in the default cache, its model's name and its hash."""

    cache_name: str
    model_name: str
    digest: str


# KEYS: the address's counter, the key's cached row, the key's counter; an empty name skips
# its step. ARGV: the address counter's life, the address limit, the key counter's life.
# The key is counted only when the address is within its limit and the key's row is cached.
_ADDRESS_AND_KEY_LUA = """
local address = 0
if KEYS[1] ~= '' then
  address = redis.call('INCR', KEYS[1])
  redis.call('EXPIRE', KEYS[1], ARGV[1], 'NX')
  if address > tonumber(ARGV[2]) then return {address, false, 0} end
end
local row = false
if KEYS[2] ~= '' then row = redis.call('GET', KEYS[2]) end
local count = 0
if row and KEYS[3] ~= '' then
  count = redis.call('INCR', KEYS[3])
  redis.call('EXPIRE', KEYS[3], ARGV[3], 'NX')
end
return {address, row, count}
"""
_scripts: dict[int, object] = {}


def address_check(
    request, *, key: KeyAhead | None = None, key_counted: bool = True
) -> AddressRateThrottle | None:
    """Count the request against its address's limit: the throttle if it is over, else None.

    With ``key`` and a Redis cache, one round trip also reads the key's cached row (left in
    ``request.cache_reads`` for the key check) and, when the row is there and the address
    within its limit, counts the request against the key's limit if the view has one
    (``key_counted``; the count left in ``request.rate_counts`` for ``KeyRateThrottle``).
    """
    address = AddressRateThrottle()
    cache = caches["default"]
    if key is None or not isinstance(cache, RedisCache):
        return None if address.allow_request(request, None) else address
    now = time.time()
    keyed = KeyRateThrottle()
    address_name = key_name = ""
    if address.rate is not None:
        address_name = address.window_counter(address.get_cache_key(request, None), now)
    if keyed.rate is not None and key_counted:
        key_name = keyed.window_counter(keyed.key_ident(key.model_name, key.digest), now)
    names = [cache.make_and_validate_key(n) if n else "" for n in (address_name, key.cache_name)]
    names.append(cache.make_and_validate_key(key_name) if key_name else "")
    client = cache._cache.get_client(names[1], write=True)
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(_ADDRESS_AND_KEY_LUA)
    ttls = [(address.duration or 0) + 1, address.num_requests or 0, (keyed.duration or 0) + 1]
    address_count, row, key_count = script(keys=names, args=ttls)
    if address_name and address_count > address.num_requests:
        return address
    request.cache_reads = {
        key.cache_name: None if row is None else cache._cache._serializer.loads(row)
    }
    if key_count:
        request.rate_counts = {key_name: key_count}
    return None
