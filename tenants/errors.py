"""Errors the tenants services raise; the API maps each to a 4xx answer with its message."""


class TenantError(Exception):
    """Base: a tenant operation was refused. ``field`` names the input at fault, if any."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class TenantInvalid(TenantError):
    """Input failed validation."""


class TenantAlreadyExists(TenantError):
    """The tenant id is taken."""


class ProvisioningFailed(TenantError):
    """An outside system failed during onboarding; nothing was left behind."""
