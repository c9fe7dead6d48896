"""The ledger of export objects a sync processed: what "new" is measured against."""

from django.db import models


class ExportObjectRecord(models.Model):
    """One part (or manifest) of a billing period's delivery that a run loaded.

    Rows are written by the run's ``export.sync`` step; only rows of runs that COMPLETED
    count (``connectors.selectors.ledger_periods``): marked ``completed`` when the run ends so,
    or removed when it ends otherwise, so a failed sync leaves the ledger as it was.
    """

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="export_records"
    )
    provider_config = models.ForeignKey(
        "tenants.ProviderConfig", on_delete=models.CASCADE, related_name="export_records"
    )
    layout = models.CharField(max_length=32)
    key = models.CharField(max_length=1024)
    etag = models.CharField(max_length=200, blank=True)
    size = models.BigIntegerField()
    last_modified = models.DateTimeField()
    #: The provider's id of the delivery (CUR assemblyId, Data Exports executionId, Azure
    #: runId); empty where the provider has none (OCI).
    delivery_id = models.CharField(max_length=200, blank=True)
    manifest_key = models.CharField(max_length=1024, blank=True)
    billing_period = models.DateField()
    # The run that loaded it. Its id stays when the run's own row is purged
    # (RUN_LOG_RETENTION_DAYS): the ledger outlives run logs, or every month older than that
    # would be new again (hence no database constraint; null only so a purged run's rows
    # still list, with no run, in the admin).
    run = models.ForeignKey(
        "pipelines.PipelineRun",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="export_records",
    )
    #: Set once the run COMPLETED: only such rows say what a period's last load was.
    completed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant_id", "-billing_period", "key"]
        indexes = [
            # "The latest processing of each period" of one config.
            models.Index(
                fields=["provider_config", "billing_period", "-created_at"],
                name="export_record_latest",
            ),
            models.Index(fields=["tenant", "billing_period"], name="export_record_tenant"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.billing_period:%Y-%m} {self.key}"
