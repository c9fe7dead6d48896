"""Reads of the mappings app: which mapping a tenant's name means, and the pipeline running it."""

from __future__ import annotations

import dataclasses
import types

from django.db.models import Q
from django.http import Http404

from mappings.format import MappingInvalid, MappingIssue, MappingSpec, mapping_parse
from mappings.models import FocusMapping
from mappings.shipped import (
    shipped_mapping,
    shipped_mappings,
    shipped_mappings_cache_clear,
    shipped_mappings_validate,
)
from pipelines.configs import MAPPED_PROVIDER, PipelineConfigNotFound, pipeline_config_get
from pipelines.errors import InvalidRunParameters

MAPPED_DOMAIN, MAPPED_PIPELINE = "cost", "focus"
#: The generic sync of a mapping's source from a bucket (``configs/mapping/cost/sync.yml``).
MAPPED_SYNC = "sync"


def mapping_spec_from_row(row: FocusMapping) -> MappingSpec:
    """A stored mapping parsed; MappingInvalid if it no longer validates."""
    owner = f"tenant {row.tenant_id}" if row.tenant_id else "staff"
    return mapping_parse(row.definition, file=f"mapping {row.name!r} ({owner})", name=row.name)


def mapping_spec_for_tenant(*, tenant_id: str, name: str) -> MappingSpec | None:
    """The mapping ``name`` means for this tenant: its own, else staff's, else a shipped one.

    None if there is none; MappingInvalid if the one found no longer validates.
    """
    rows = {
        row.tenant_id: row
        for row in FocusMapping.objects.filter(
            Q(tenant_id=tenant_id) | Q(tenant__isnull=True), name=name
        )
    }
    row = rows.get(tenant_id) or rows.get(None)
    if row is not None:
        return mapping_spec_from_row(row)
    return shipped_mapping(name)


def mapping_names_for_tenant(*, tenant_id: str) -> list[str]:
    """Every mapping name this tenant can run, whoever defined it."""
    stored = FocusMapping.objects.filter(Q(tenant_id=tenant_id) | Q(tenant__isnull=True))
    return sorted({*stored.values_list("name", flat=True), *(s.name for s in shipped_mappings())})


def mapping_names_staff() -> list[str]:
    """The mappings every tenant can run: staff-defined and shipped (a tenant may add its own)."""
    stored = FocusMapping.objects.filter(tenant__isnull=True).values_list("name", flat=True)
    return sorted({*stored, *(s.name for s in shipped_mappings())})


def mappings_list(*, tenant_id: str):
    """A tenant's own stored mappings."""
    return FocusMapping.objects.filter(tenant_id=tenant_id).order_by("name")


def mapping_get(*, tenant_id: str, mapping_id: int) -> FocusMapping:
    """One of the tenant's own mappings; 404 for any other (another tenant's, staff's)."""
    row = FocusMapping.objects.filter(pk=mapping_id, tenant_id=tenant_id).first()
    if row is None:
        raise Http404("No such mapping.")
    return row


def mapped_pipeline_config(*, tenant_id: str, provider: str, domain: str, pipeline: str):
    """The generic mapped pipeline set up for the tenant's mapping ``provider``.

    Its tables are the mapping's own (``<name>_mapped_raw``, ``<name>_cost_focus``): a
    mapping cannot take a built-in provider's name, so it never writes their tables.
    PipelineConfigNotFound when there is no such mapping; InvalidRunParameters (400) when
    the mapping found no longer validates.
    """
    key = f"{provider}/{domain}/{pipeline}"
    if domain != MAPPED_DOMAIN or pipeline not in (MAPPED_PIPELINE, MAPPED_SYNC):
        raise PipelineConfigNotFound(f"No pipeline config {key!r}.")
    try:
        spec = mapping_spec_for_tenant(tenant_id=tenant_id, name=provider)
    except MappingInvalid as exc:
        raise InvalidRunParameters(
            f"{key}: the FOCUS mapping {provider!r} is invalid: {exc}"
        ) from None
    if spec is None:
        raise PipelineConfigNotFound(
            f"No pipeline config {key!r}: {provider!r} is neither a built-in provider nor a "
            f"FOCUS mapping this tenant has (create one with POST /api/v1/tenants/"
            f"{tenant_id}/mappings, see docs/mappings.md)."
        )
    base = pipeline_config_get(MAPPED_PROVIDER, MAPPED_DOMAIN, pipeline)
    return dataclasses.replace(
        base,
        provider=provider,
        pipeline_id=f"{{tenant_id}}_{provider}_cost_{pipeline}",
        description=f"{spec.description or provider} (FOCUS mapping {provider!r})",
        variables=types.MappingProxyType(
            {
                **base.variables,
                "mapping": provider,
                "raw_table": f"{provider}_mapped_raw",
                "focus_table": f"{provider}_cost_focus",
                "billed_cost_column": spec.billed_cost,
            }
        ),
    )


class MappingConfigs:
    """The tenants' FOCUS mappings as pipeline configs (``pipelines.configs.ConfigSource``)."""

    def config(self, *, tenant_id: str, provider: str, domain: str, pipeline: str):
        return mapped_pipeline_config(
            tenant_id=tenant_id, provider=provider, domain=domain, pipeline=pipeline
        )

    def names_for_tenant(self, *, tenant_id: str) -> list[str]:
        return mapping_names_for_tenant(tenant_id=tenant_id)

    def names_staff(self) -> list[str]:
        return mapping_names_staff()

    def issues(self) -> tuple[list[MappingIssue], list[str]]:
        shipped_mappings_cache_clear()  # read the files as they are now
        return shipped_mappings_validate(), [spec.file for spec in shipped_mappings()]
