"""Every export layout by name (``export_layout`` in a provider config)."""

from __future__ import annotations

from connectors.layouts import ExportLayout
from connectors.layouts.azure import AzureExportsLayout

LAYOUTS: dict[str, ExportLayout] = {layout.name: layout for layout in (AzureExportsLayout(),)}


def layout_get(name: str) -> ExportLayout:
    return LAYOUTS[name]
