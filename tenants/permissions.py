"""Who may call what: staff for admin routes, a tenant only for its own routes."""

from rest_framework import permissions

from tenants.authentication import KeyPrincipal


def is_staff(user) -> bool:
    return bool(user and user.is_authenticated and user.is_staff and getattr(user, "is_active", 1))


class IsStaff(permissions.BasePermission):
    message = "Staff only: log in to the admin or send X-Admin-Key."

    def has_permission(self, request, view) -> bool:
        return is_staff(request.user)


class IsTenantOrStaff(permissions.BasePermission):
    """A tenant key may reach only its own tenant's routes; the view answers 404 otherwise."""

    message = "Send X-API-Key."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return is_staff(user) or (isinstance(user, KeyPrincipal) and user.tenant_id is not None)
