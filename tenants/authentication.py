"""DRF authentication by key: ``X-API-Key`` for a tenant, ``X-Admin-Key`` for staff machines."""

from dataclasses import dataclass

from rest_framework import authentication, exceptions

from core.throttling import KeyAhead
from tenants.models import AdminKey, ApiKey, Tenant
from tenants.services.audit import Actor
from tenants.services.keys import admin_key_authenticate, api_key_authenticate, key_ahead


@dataclass(frozen=True)
class KeyPrincipal:
    """The request's user when it came with a key rather than a session.

    ``tenant_id`` costs nothing; ``tenant`` is loaded on first use (the key may come from
    the authentication cache, which holds the key's own row only).
    """

    key: ApiKey | AdminKey
    user_id: str = ""
    is_authenticated: bool = True

    @property
    def tenant_id(self) -> str | None:
        return getattr(self.key, "tenant_id", None)

    @property
    def tenant(self) -> Tenant | None:
        return self.key.tenant if self.tenant_id is not None else None

    @property
    def is_staff(self) -> bool:
        return self.tenant_id is None

    @property
    def pk(self) -> None:
        return None


def _user_id(request) -> str:
    return request.META.get("HTTP_X_USER_ID", "")[:150]


class _KeyAuthentication(authentication.BaseAuthentication):
    header: str
    model: type[ApiKey | AdminKey]

    @classmethod
    def lookahead(cls, request) -> KeyAhead | None:
        """The request's key, for the per-address check to read its cached row in the same
        round trip (``core.middleware.AddressThrottleMiddleware``)."""
        raw = request.META.get(cls.header)
        return None if raw is None else key_ahead(cls.model, raw)


class ApiKeyAuthentication(_KeyAuthentication):
    header = "HTTP_X_API_KEY"
    model = ApiKey

    def authenticate(self, request):
        raw = request.META.get(self.header)
        if raw is None:
            return None
        key = api_key_authenticate(raw, cache_reads=getattr(request, "cache_reads", None))
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked API key.")
        return KeyPrincipal(key=key, user_id=_user_id(request)), key

    def authenticate_header(self, request) -> str:
        return "X-API-Key"


class AdminKeyAuthentication(_KeyAuthentication):
    header = "HTTP_X_ADMIN_KEY"
    model = AdminKey

    def authenticate(self, request):
        raw = request.META.get(self.header)
        if raw is None:
            return None
        key = admin_key_authenticate(raw, cache_reads=getattr(request, "cache_reads", None))
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked admin key.")
        return KeyPrincipal(key=key, user_id=_user_id(request)), key

    def authenticate_header(self, request) -> str:
        return "X-Admin-Key"


def request_actor(request) -> Actor:
    """The audit actor behind a request: staff user, key prefix, plus X-User-ID."""
    user = request.user
    if isinstance(user, KeyPrincipal):
        return Actor(label=user.key.prefix, user_id=user.user_id)
    return Actor(user=user, label=getattr(user, "username", ""), user_id=_user_id(request))
