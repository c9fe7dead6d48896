"""Per-tenant pipeline schedules and the slots the dispatcher creates from them."""

from django.db import models
from django.db.models import Q

from core.parsers import StoredJSONEncoder


class CatchUp(models.TextChoices):
    LATEST = "latest", "Latest missed slot only"
    ALL = "all", "Every missed slot"


class Schedule(models.Model):
    """A tenant's pipeline on a cron schedule in an IANA timezone."""

    CatchUp = CatchUp

    # Indexed by the unique (tenant, provider, domain, pipeline) constraint.
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="schedules", db_index=False
    )
    provider = models.CharField(max_length=32)
    domain = models.CharField(max_length=64)
    pipeline = models.CharField(max_length=64)
    cron = models.CharField(max_length=100, help_text="Five-field cron expression.")
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA timezone name.")
    active = models.BooleanField(default=True)
    parameters = models.JSONField(encoder=StoredJSONEncoder, default=dict, blank=True)
    priority = models.SmallIntegerField(default=0, help_text="Higher starts first when queued.")
    max_retries = models.PositiveSmallIntegerField(default=3)
    retry_backoff_seconds = models.PositiveIntegerField(default=60)
    catch_up = models.CharField(max_length=8, choices=CatchUp.choices, default=CatchUp.LATEST)
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_slot_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant_id", "provider", "domain", "pipeline"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "provider", "domain", "pipeline"], name="schedule_unique_pipeline"
            ),
            models.CheckConstraint(
                condition=Q(catch_up__in=CatchUp.values), name="schedule_catch_up_valid"
            ),
        ]
        indexes = [
            # The dispatcher's claim: active schedules in next_run_at order.
            models.Index(fields=["next_run_at"], condition=Q(active=True), name="schedule_due"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}/{self.config_path} [{self.cron} {self.timezone}]"

    @property
    def config_path(self) -> str:
        return f"{self.provider}/{self.domain}/{self.pipeline}"


class SlotState(models.TextChoices):
    QUEUED = "QUEUED"  # waiting for a concurrency slot or for its retry time
    STARTED = "STARTED"  # its current attempt's run exists
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"  # the last attempt failed and no retries are left
    CANCELLED = "CANCELLED"
    SKIPPED = "SKIPPED"  # refused for good: daily/monthly quota, tenant status, config


SLOT_FINAL_STATES = (
    SlotState.COMPLETED,
    SlotState.FAILED,
    SlotState.CANCELLED,
    SlotState.SKIPPED,
)


class ScheduledRun(models.Model):
    """One slot of a schedule (a cron time, or a backfilled one): started exactly once.

    The unique (schedule, slot_at) constraint is what makes two dispatchers racing on the
    same schedule create one slot, and so one run.
    """

    State = SlotState

    class Kind(models.TextChoices):
        SCHEDULED = "scheduled"
        BACKFILL = "backfill"

    # Indexed by the unique (schedule, slot_at) constraint.
    schedule = models.ForeignKey(
        Schedule, on_delete=models.CASCADE, related_name="slots", db_index=False
    )
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="scheduled_runs"
    )
    slot_at = models.DateTimeField()
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SCHEDULED)
    state = models.CharField(max_length=16, choices=SlotState.choices, default=SlotState.QUEUED)
    priority = models.SmallIntegerField(default=0)
    attempt = models.PositiveSmallIntegerField(default=1)
    next_attempt_at = models.DateTimeField()
    reason = models.TextField(blank=True)
    run = models.OneToOneField(
        "pipelines.PipelineRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="scheduled_slot",
    )
    previous_run_ids = models.JSONField(encoder=StoredJSONEncoder, default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-slot_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "slot_at"], name="scheduled_run_unique_slot"
            ),
            models.CheckConstraint(
                condition=Q(state__in=SlotState.values), name="scheduled_run_state_valid"
            ),
        ]
        indexes = [
            models.Index(
                fields=["-priority", "slot_at"],
                condition=Q(state="QUEUED"),
                name="scheduled_run_queue",
            ),
            models.Index(fields=["state"], name="scheduled_run_state"),
        ]

    def __str__(self) -> str:
        return f"{self.schedule_id}@{self.slot_at:%Y-%m-%d %H:%M}Z {self.state}"
