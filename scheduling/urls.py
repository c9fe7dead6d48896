"""Routes of the scheduler API, mounted under /api/v1/."""

from django.urls import path

from scheduling import apis

urlpatterns = [
    path(
        "scheduler/tenant/<str:tenant_id>/pipelines",
        apis.TenantSchedulesApi.as_view(),
        name="tenant-schedules",
    ),
    path(
        "scheduler/tenant/<str:tenant_id>/pipelines/<int:config_id>",
        apis.TenantScheduleDetailApi.as_view(),
        name="tenant-schedule-detail",
    ),
    path(
        "scheduler/tenant/<str:tenant_id>/pipelines/<int:config_id>/backfill",
        apis.ScheduleBackfillApi.as_view(),
        name="tenant-schedule-backfill",
    ),
    path("scheduler/trigger", apis.SchedulerTriggerApi.as_view(), name="scheduler-trigger"),
    path(
        "scheduler/process-queue",
        apis.SchedulerProcessQueueApi.as_view(),
        name="scheduler-process-queue",
    ),
    path(
        "scheduler/reset-daily-quotas",
        apis.SchedulerResetDailyQuotasApi.as_view(),
        name="scheduler-reset-daily-quotas",
    ),
    path(
        "scheduler/cleanup-orphaned-pipelines",
        apis.SchedulerCleanupOrphansApi.as_view(),
        name="scheduler-cleanup-orphans",
    ),
    path("scheduler/status", apis.SchedulerStatusApi.as_view(), name="scheduler-status"),
]
