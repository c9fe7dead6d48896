"""Makes the admin index the staff dashboard; the root URLconf imports this before admin URLs."""

from django.contrib import admin
from django.contrib.admin import AdminSite

DASHBOARD_TEMPLATE = "admin/dashboard/index.html"


def dashboard_install(site: AdminSite) -> None:
    """Serve the dashboard as ``site``'s index (the app list stays below it).

    Must run before the site's URLs are built: they wrap ``site.index`` once.
    """

    def index(request, extra_context=None):
        from convergence.dashboard.views import dashboard_context

        context = {**dashboard_context(), **(extra_context or {})}
        return AdminSite.index(site, request, extra_context=context)

    site.index_template = DASHBOARD_TEMPLATE
    site.index = index


dashboard_install(admin.site)
