"""Routes of the budgets API, mounted under /api/v1/."""

from django.urls import path

from budgets import apis

urlpatterns = [
    path("tenants/<str:tenant_id>/budgets", apis.TenantBudgetsApi.as_view(), name="budgets"),
    path(
        "tenants/<str:tenant_id>/budgets/<int:budget_id>",
        apis.TenantBudgetDetailApi.as_view(),
        name="budget-detail",
    ),
    path("tenants/<str:tenant_id>/anomalies", apis.TenantAnomaliesApi.as_view(), name="anomalies"),
    path("tenants/<str:tenant_id>/webhook", apis.TenantWebhookApi.as_view(), name="webhook"),
]
