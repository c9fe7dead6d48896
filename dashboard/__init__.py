"""The staff dashboard: aggregate figures, run progress, tenant costs and their SVG charts."""
