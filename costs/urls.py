"""Routes of the costs API, mounted under /api/v1/."""

from django.urls import path

from costs import apis

urlpatterns = [
    path("tenants/<str:tenant_id>/costs", apis.TenantCostsApi.as_view(), name="costs"),
    path(
        "tenants/<str:tenant_id>/costs/export",
        apis.TenantCostsExportApi.as_view(),
        name="costs-export",
    ),
]
