"""Routes of the connectors API, mounted under /api/v1/."""

from django.urls import path

from connectors import apis

urlpatterns = [
    path(
        "tenants/<str:tenant_id>/provider-configs/<int:config_id>/check",
        apis.ProviderConfigCheckApi.as_view(),
        name="provider-config-check",
    ),
]
