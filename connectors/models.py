"""The ledger of export objects a sync processed: what "new" is measured against."""

from django.db import models


class ExportObjectRecord(models.Model):
    """One part (or manifest) of a billing period's delivery that a run loaded.

    Rows are written by the run's ``export.sync`` step; only rows of runs that COMPLETED
    count (``connectors.selectors.ledger_deliveries``), and a run that ends otherwise has its
    rows removed when it finishes, so a failed sync leaves the ledger as it was.
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
    run = models.ForeignKey(
        "pipelines.PipelineRun", on_delete=models.CASCADE, related_name="export_records"
    )
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
