"""FOCUS mappings kept as data: staff-defined (every tenant may use them) or a tenant's own."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from mappings.format import MappingInvalid, mapping_name_check, mapping_parse
from tenants.models import Tenant


class FocusMapping(models.Model):
    """A mapping file's YAML under a name; the name is the provider name runs use."""

    tenant = models.ForeignKey(
        Tenant,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="focus_mappings",
        help_text="Empty: staff-defined, usable by every tenant (a tenant's own wins).",
    )
    name = models.CharField(max_length=32)
    description = models.CharField(max_length=500, blank=True)
    definition = models.TextField(help_text="The mapping's YAML (docs/mappings.md).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="focus_mapping_unique_name"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(tenant__isnull=True), name="focus_mapping_unique_staff"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id or 'staff'}/{self.name}"

    def clean(self) -> None:

        try:
            mapping_name_check(self.name)
        except ValueError as exc:
            raise ValidationError({"name": str(exc)}) from exc
        try:
            spec = mapping_parse(self.definition, file=f"mapping {self.name!r}", name=self.name)
        except MappingInvalid as exc:
            raise ValidationError({"definition": [str(i) for i in exc.issues]}) from exc
        if not self.description:
            self.description = spec.description[:500]
