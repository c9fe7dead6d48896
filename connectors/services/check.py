"""The connection check a tenant runs before its first sync: authenticate, find the export,
list the months it holds, and propose a schedule and a first backfill."""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors.layouts import ExportLayoutError
from connectors.selectors import ledger_periods
from connectors.services.deliveries import export_deliveries
from connectors.services.stores import LAYOUTS, PROPOSED_SCHEDULE, ConnectorNotSet
from tenants.models import ProviderConfig
from warehouse.exports import ExportStoreError


class ConnectorCheckFailed(Exception):
    """The export cannot be read as configured; the message says exactly what is wrong."""


@dataclass(frozen=True)
class ConnectorCheck:
    provider: str
    layout: str
    location: str
    prefix: str
    periods: list[dict] = field(default_factory=list)
    newest_manifest: str | None = None
    pipeline: str = ""
    schedule: str = PROPOSED_SCHEDULE
    backfill: list[str] = field(default_factory=list)


def connector_check(*, config: ProviderConfig) -> ConnectorCheck:
    """What the config's export holds, read as the sync will read it (same store, same
    credential, same layout); ConnectorCheckFailed naming the bucket, prefix or setting."""
    if not config.settings.get("export_layout"):
        raise ConnectorCheckFailed(
            f"The {config.provider} provider config connects no export: set export_layout "
            "and its settings first (docs/connectors.md)."
        )
    try:
        export = export_deliveries(config=config, layouts=tuple(LAYOUTS))
    except (ConnectorNotSet, ExportStoreError, ExportLayoutError) as exc:
        raise ConnectorCheckFailed(str(exc)) from None
    store, prefix, layout, deliveries = (
        export.store,
        export.prefix,
        export.layout,
        export.deliveries,
    )
    if not deliveries:
        raise ConnectorCheckFailed(
            f"No {layout.name} export under {store.location}/{prefix}: check export_prefix "
            "(the path the export writes to, up to the report's name)."
        )
    ledger = ledger_periods(provider_config=config)
    periods = []
    for delivery in deliveries:
        known = ledger.get(delivery.period)
        parts = frozenset((p.key, p.etag) for p in delivery.parts)
        synced = known is not None and (known.delivery_id, known.parts) == (
            delivery.delivery_id,
            parts,
        )
        periods.append(
            {
                "billing_period": delivery.period.isoformat(),
                "kind": delivery.kind,
                "delivery_id": delivery.delivery_id,
                "manifest_key": delivery.manifest_key,
                "parts": len(delivery.parts),
                "bytes": sum(p.size for p in delivery.parts),
                "format": delivery.format,
                "synced": synced,
            }
        )
    manifests = [
        (max(p.last_modified for p in d.parts), d.manifest_key)
        for d in deliveries
        if d.manifest_key and d.parts
    ]
    return ConnectorCheck(
        provider=config.provider,
        layout=layout.name,
        location=store.location,
        prefix=prefix,
        periods=periods,
        newest_manifest=max(manifests)[1] if manifests else None,
        pipeline=f"{config.provider}/cost/sync",
        backfill=[p["billing_period"] for p in periods if not p["synced"]],
    )
