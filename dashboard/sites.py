"""The admin site: its index is the staff dashboard, and each tenant has a cost page."""

from django.contrib.admin import AdminSite
from django.urls import path

from dashboard.views import dashboard_context, tenant_overview_view
from tenants.models import Tenant

DASHBOARD_TEMPLATE = "admin/dashboard/index.html"


class DashboardAdminSite(AdminSite):
    """Django's admin with the staff dashboard above the app list and the tenant cost pages.

    Installed as the default site by ``DashboardAdminConfig`` (``AdminConfig.default_site``),
    so every ``admin.register`` in the apps below lands here without knowing about it.
    """

    index_template = DASHBOARD_TEMPLATE

    def index(self, request, extra_context=None):
        return super().index(
            request, extra_context={**dashboard_context(), **(extra_context or {})}
        )

    def get_urls(self):
        return [
            path(
                "tenants/tenant/<path:object_id>/overview/",
                self.admin_view(self.tenant_overview),
                name="tenants_tenant_overview",
            ),
            *super().get_urls(),
        ]

    def tenant_overview(self, request, object_id):
        """Costs per day, provider and service from the tenant's FOCUS tables; runs; schedules."""

        return tenant_overview_view(self._registry[Tenant], request, object_id)
