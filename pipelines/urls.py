"""Routes of the run API, mounted under /api/v1/."""

from django.urls import path

from pipelines import apis

urlpatterns = [
    path(
        "pipelines/run/<str:tenant_id>/<str:provider>/<str:domain>/<str:pipeline>",
        apis.PipelineRunStartApi.as_view(),
        name="pipeline-run-start",
    ),
    path("pipelines/runs/<uuid:run_id>", apis.PipelineRunDetailApi.as_view(), name="run-detail"),
    path(
        "pipelines/runs/<uuid:run_id>/cancel",
        apis.PipelineRunCancelApi.as_view(),
        name="run-cancel",
    ),
    path("tenants/<str:tenant_id>/runs", apis.TenantRunsApi.as_view(), name="tenant-runs"),
]
