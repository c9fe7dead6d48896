"""Admin for the export ledger: read-only, so staff see what each sync took (and cannot make
the next sync skip or redo a period by hand)."""

from django.contrib import admin

from connectors.models import ExportObjectRecord


@admin.register(ExportObjectRecord)
class ExportObjectRecordAdmin(admin.ModelAdmin):
    list_display = (
        "tenant",
        "billing_period",
        "layout",
        "key",
        "size",
        "delivery_id",
        "run",
        "run_status",
        "created_at",
    )
    list_filter = ("layout", "billing_period", "run__status")
    search_fields = ("tenant__id", "key", "delivery_id", "manifest_key", "billing_period")
    date_hierarchy = "billing_period"
    list_select_related = ("run",)
    readonly_fields = [f.name for f in ExportObjectRecord._meta.fields]

    @admin.display(description="Run status", ordering="run__status")
    def run_status(self, row: ExportObjectRecord) -> str:
        return row.run.status if row.run is not None else "(run log purged)"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
