"""What a pipeline needs from the tenant's provider configs before a run can succeed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipelines.errors import InvalidRunParameters
from tenants.selectors import run_inputs_for_tenant

if TYPE_CHECKING:
    from pipelines.configs import PipelineConfig

# Config variables without a default are filled from a provider config setting.
PROVIDER_SETTINGS = {
    "source_billing_table": (
        "billing_export_table",
        "the billing export table, project.dataset.table",
    ),
}


class MissingProviderSettings(InvalidRunParameters):
    """The pipeline reads a provider setting the tenant has not stored yet."""


def pipeline_settings_missing(*, config: PipelineConfig, tenant_id: str) -> list[str]:
    """One sentence per variable the config leaves to the tenant and the tenant lacks."""

    needed = [name for name, value in config.variables.items() if value is None]
    if not needed:
        return []
    variables = run_inputs_for_tenant(tenant_id=tenant_id, provider=config.provider).variables
    missing = []
    for name in needed:
        if variables.get(name):
            continue
        setting, what = PROVIDER_SETTINGS.get(name, (name, name))
        missing.append(
            f"the {config.provider} provider config's setting {setting!r} ({what}) is not set"
        )
    return missing


def pipeline_settings_check(*, config: PipelineConfig, tenant_id: str) -> None:
    """Refuse (400) a run whose pipeline needs provider settings the tenant has not stored."""
    missing = pipeline_settings_missing(config=config, tenant_id=tenant_id)
    if missing:
        raise MissingProviderSettings(
            f"{config.key} cannot run yet: {'; '.join(missing)}. Store it first with "
            f"POST /api/v1/tenants/{tenant_id}/provider-configs."
        )


def pipelines_for_tenant(*, tenant_id: str) -> list[dict]:
    """Every tenant-facing pipeline with its required parameters and what settings it lacks
    for this tenant now (empty: it can run as soon as its parameters are given); the generic
    mapped pipeline appears once per FOCUS mapping the tenant can run, under its name."""
    from pipelines.configs import (  # configs imports this module's PROVIDER_SETTINGS
        MAPPED_PROVIDER,
        SYSTEM_PROVIDER,
        config_source_configs,
        pipeline_configs_all,
    )

    configs = [
        config
        for config in pipeline_configs_all()
        if config.provider not in (SYSTEM_PROVIDER, MAPPED_PROVIDER)
    ]
    # A mapping that no longer validates is not offered.
    configs.extend(config_source_configs(tenant_id=tenant_id).values())
    return [
        {
            "key": config.key,
            "description": config.description,
            "required": [p.name for p in config.parameters if p.required],
            "missing": pipeline_settings_missing(config=config, tenant_id=tenant_id),
        }
        for config in configs
    ]
