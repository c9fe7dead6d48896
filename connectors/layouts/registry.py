"""Every export layout by name (``export_layout`` in a provider config)."""

from __future__ import annotations

from connectors.layouts import ExportLayout

LAYOUTS: dict[str, ExportLayout] = {}


def layout_get(name: str) -> ExportLayout:
    return LAYOUTS[name]
