"""Routes of the tenants API, mounted under /api/v1/."""

from django.urls import path

from tenants import apis

urlpatterns = [
    path("tenants/dryrun", apis.TenantDryRunApi.as_view(), name="tenant-dryrun"),
    path("tenants/onboard", apis.TenantOnboardApi.as_view(), name="tenant-onboard"),
    path("tenants/<str:tenant_id>/usage", apis.TenantUsageApi.as_view(), name="tenant-usage"),
    path("tenants/<str:tenant_id>/api-keys", apis.TenantApiKeysApi.as_view(), name="tenant-keys"),
    path(
        "tenants/<str:tenant_id>/api-keys/<int:key_id>",
        apis.TenantApiKeyRevokeApi.as_view(),
        name="tenant-key-revoke",
    ),
    path(
        "tenants/<str:tenant_id>/credentials",
        apis.TenantCredentialsApi.as_view(),
        name="tenant-credentials",
    ),
    path(
        "tenants/<str:tenant_id>/credentials/<int:credential_id>",
        apis.TenantCredentialDeleteApi.as_view(),
        name="tenant-credential-delete",
    ),
    path(
        "tenants/<str:tenant_id>/provider-configs",
        apis.TenantProviderConfigsApi.as_view(),
        name="tenant-provider-configs",
    ),
    path("admin/bootstrap", apis.AdminBootstrapApi.as_view(), name="admin-bootstrap"),
    path("admin/tenants", apis.AdminTenantsApi.as_view(), name="admin-tenants"),
    path(
        "admin/tenants/<str:tenant_id>",
        apis.AdminTenantDetailApi.as_view(),
        name="admin-tenant-detail",
    ),
    path("admin/api-keys", apis.AdminApiKeyIssueApi.as_view(), name="admin-api-keys"),
    path(
        "admin/api-keys/<int:key_id>",
        apis.AdminApiKeyRevokeApi.as_view(),
        name="admin-api-key-revoke",
    ),
]
