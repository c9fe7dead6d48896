"""Routes of the mappings API, mounted under /api/v1/."""

from django.urls import path

from mappings import apis

urlpatterns = [
    path("tenants/<str:tenant_id>/mappings", apis.TenantMappingsApi.as_view(), name="mappings"),
    path(
        "tenants/<str:tenant_id>/mappings/<int:mapping_id>",
        apis.TenantMappingDetailApi.as_view(),
        name="mapping-detail",
    ),
    path(
        "tenants/<str:tenant_id>/mappings/<int:mapping_id>/preview",
        apis.TenantMappingPreviewApi.as_view(),
        name="mapping-preview",
    ),
]
