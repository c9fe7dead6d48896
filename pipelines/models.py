"""Pipeline runs and their steps; each run is mirrored into the tenant's dataset."""

import uuid

from django.db import models
from django.db.models import Q

from core.parsers import StoredJSONEncoder


class RunStatus(models.TextChoices):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class StepStatus(models.TextChoices):
    """A step's states: a run's, plus SKIPPED for a step its run did not need."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    # Not needed for this outcome: a failure notice after success, or work after a failed step.
    SKIPPED = "SKIPPED"


ACTIVE_STATUSES = (RunStatus.PENDING, RunStatus.RUNNING)
# Key of StepRun.details holding the rows a table-writing step wrote (set by the engine).
ROWS_WRITTEN = "rows_written"
FINAL_STATUSES = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)


class PipelineRun(models.Model):
    """One run of a pipeline for a tenant; its id is the run id (``pipeline_logging_id``).

    ``rows_processed`` is the number of rows the run wrote to its final table: the figure of
    its last completed step that writes a table (not a sum over steps).
    """

    class Trigger(models.TextChoices):
        MANUAL = "manual"
        SCHEDULED = "scheduled"
        BACKFILL = "backfill"
        RETRY = "retry"

    Status = RunStatus

    id = models.UUIDField("run id", primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own: the (tenant, -created_at) index serves lookups by tenant, and
    # every index costs each of the dispatcher's thousands of inserts a second.
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="runs", db_index=False
    )
    provider = models.CharField(max_length=32)
    domain = models.CharField(max_length=64)
    pipeline = models.CharField(max_length=64)
    pipeline_id = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    parameters = models.JSONField(encoder=StoredJSONEncoder, default=dict, blank=True)
    user_id = models.CharField(max_length=150, blank=True)
    # True while the run holds one of the tenant's concurrency slots; cleared exactly once.
    holds_slot = models.BooleanField(default=True)
    cancel_requested = models.BooleanField(default=False)
    attempt = models.PositiveSmallIntegerField(default=1)
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    rows_processed = models.BigIntegerField(
        default=0, help_text="Rows written to the run's final table."
    )
    bytes_processed = models.BigIntegerField(default=0)
    error_message = models.TextField(blank=True)
    logged_to_warehouse = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"]),
            models.Index(fields=["status", "heartbeat_at"]),
            models.Index(fields=["tenant"], condition=Q(holds_slot=True), name="run_slot_holders"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=RunStatus.values), name="pipeline_run_status_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}/{self.config_path} {self.status}"

    @property
    def config_path(self) -> str:
        return f"{self.provider}/{self.domain}/{self.pipeline}"

    @property
    def duration_ms(self) -> int | None:
        if self.started_at and self.ended_at:
            return int((self.ended_at - self.started_at).total_seconds() * 1000)
        return None


class StepRun(models.Model):
    # Indexed by the unique (run, index) constraint.
    run = models.ForeignKey(
        PipelineRun, on_delete=models.CASCADE, related_name="steps", db_index=False
    )
    index = models.PositiveSmallIntegerField()
    step_id = models.CharField(max_length=100)
    ps_type = models.CharField(max_length=50)
    status = models.CharField(max_length=16, choices=StepStatus.choices, default=StepStatus.PENDING)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    rows_processed = models.BigIntegerField(default=0)
    bytes_processed = models.BigIntegerField(default=0)
    error_message = models.TextField(blank=True)
    details = models.JSONField(encoder=StoredJSONEncoder, default=dict, blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="step_run_unique_index"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.index} {self.step_id} {self.status}"

    @property
    def duration_ms(self) -> int | None:
        if self.started_at and self.ended_at:
            return int((self.ended_at - self.started_at).total_seconds() * 1000)
        return None


class SlotCounter(models.Model):
    """How many of a tenant's runs hold a concurrency slot: the admission's lock row.

    Kept equal to the tenant's runs with ``holds_slot`` by the quota service, which counts
    a run in when it admits it and out when ``run_slot_release`` clears the flag. Every
    change to a tenant's quota counters locks this row first, so admissions of one tenant,
    one at a time or a batch at a time, are decided one after another on current counts.
    """

    tenant = models.OneToOneField(
        "tenants.Tenant", primary_key=True, on_delete=models.CASCADE, related_name="slot_counter"
    )
    held = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.held} slots held"
