"""Who may call what: staff for admin routes, a tenant only for its own routes."""

from rest_framework import permissions

from tenants.selectors import is_staff, tenant_scope_for_user


class IsStaff(permissions.BasePermission):
    message = "Staff only: log in to the admin or send X-Admin-Key."

    def has_permission(self, request, view) -> bool:
        return is_staff(request.user)


class IsTenantOrStaff(permissions.BasePermission):
    """A tenant key may reach only its own tenant's routes; the view answers 404 otherwise."""

    message = "Send X-API-Key."

    def has_permission(self, request, view) -> bool:
        return tenant_scope_for_user(user=request.user).sees_any
