"""Every export layout by name (``export_layout`` in a provider config)."""

from __future__ import annotations

from connectors.layouts import ExportLayout, ExportLayoutError
from connectors.layouts.aws import CurLayout, DataExportsLayout
from connectors.layouts.azure import AzureExportsLayout
from connectors.layouts.oci import OciCostReportsLayout

LAYOUTS: dict[str, ExportLayout] = {
    layout.name: layout
    for layout in (CurLayout(), DataExportsLayout(), AzureExportsLayout(), OciCostReportsLayout())
}


def layout_get(name: str) -> ExportLayout:
    if name not in LAYOUTS:
        raise ExportLayoutError(f"No export layout {name!r}: known are {', '.join(LAYOUTS)}.")
    return LAYOUTS[name]
