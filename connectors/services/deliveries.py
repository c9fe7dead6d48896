"""What a provider config's export holds now: its layout's deliveries, read through the
config's own store, one per billing period. The sync and the connection check both ask this."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.layouts import ExportLayout, ExportLayoutError, PeriodDelivery
from connectors.selectors import ledger_known_objects
from connectors.services.stores import (
    ConnectorNotSet,
    export_layout_for,
    export_store_for_config,
)
from tenants.models import ProviderConfig
from warehouse.exports import ExportStore


@dataclass(frozen=True)
class ExportView:
    store: ExportStore
    prefix: str
    layout: ExportLayout
    deliveries: list[PeriodDelivery]


def export_deliveries(*, config: ProviderConfig, layouts: tuple[str, ...]) -> ExportView:
    """The current delivery of each billing period of the config's export, oldest first.

    Where the export holds several cost datasets for a month (Azure's actual and amortized
    cost details), the one ``export_kind`` names is taken: loading both into one FOCUS table
    would count each cost twice. Raises ExportStoreError, ExportLayoutError or
    ConnectorNotSet with a message naming the object or setting.
    """
    layout = export_layout_for(config, allowed=layouts)
    store, prefix = export_store_for_config(config)
    found = layout.deliveries(
        store, prefix, known_periods=ledger_known_objects(provider_config=config)
    )
    wanted = config.settings.get("export_kind")
    if wanted:
        found = [d for d in found if d.kind == wanted]
    by_period: dict = {}
    for delivery in found:
        by_period.setdefault(delivery.period, []).append(delivery)
    for period, several in by_period.items():
        if len(several) > 1:
            kinds = sorted({d.kind for d in several if d.kind})
            if len(kinds) > 1:
                raise ConnectorNotSet(
                    f"{store.location}/{prefix} holds {' and '.join(kinds)} exports of "
                    f"{period:%Y-%m}: set export_kind to the one to load (both would count "
                    "each cost twice)."
                )
            raise ExportLayoutError(
                f"{store.location}/{prefix} holds {len(several)} exports of {period:%Y-%m} "
                f"({', '.join(d.manifest_key or '?' for d in several)}): narrow export_prefix "
                "to one export."
            )
    return ExportView(store, prefix, layout, [by_period[p][0] for p in sorted(by_period)])
