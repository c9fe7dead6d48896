"""Admin for FOCUS mappings: staff define mappings every tenant may use (tenant left empty),
or look after a tenant's own. A definition is validated on save, every problem listed."""

from django.contrib import admin

from mappings.models import FocusMapping


@admin.register(FocusMapping)
class FocusMappingAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "description", "updated_at")
    list_filter = (("tenant", admin.EmptyFieldListFilter),)
    search_fields = ("name", "tenant__id", "description")
    raw_id_fields = ("tenant",)
    fields = ("tenant", "name", "description", "definition", "created_at", "updated_at")
    readonly_fields = ("created_at", "updated_at")

    @admin.display(description="Owner", ordering="tenant")
    def owner(self, row: FocusMapping) -> str:
        return row.tenant_id or "staff (every tenant)"
