"""Request rate limits on the shared cache (Redis in production): per key and per address.

DRF's throttles, with the rates read from settings at request time (DRF reads them once at
import). Over a limit the answer is 429 with ``Retry-After``. The per-address limit runs
before authentication (``convergence.middleware.AddressThrottleMiddleware``), so requests
with an invalid key are counted too; DRF checks throttles only after a key was accepted.
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class _SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        return settings.API_THROTTLE_RATES.get(self.scope)


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
