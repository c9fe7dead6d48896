"""The BigQuery client stays in its adapter: no module outside ``warehouse/``, ``devtools/`` and
the health check imports ``google.cloud.bigquery`` (import-linter checks the app layers, but
cannot name a subpackage of an outside package)."""

import ast
from pathlib import Path

from django.conf import settings

ALLOWED = ("warehouse/", "devtools/", "convergence/health.py")
APPS = ("convergence", "dashboard", "billing", "budgets", "scheduling", "mappings", "pipelines")
APPS += ("tenants", "focus", "warehouse", "core", "devtools")


def bigquery_importers(root: Path) -> list[str]:
    found = []
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if "/tests/" in relative or relative.startswith(ALLOWED):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [f"{node.module}.{alias.name}" for alias in node.names]
                if any(
                    n == "google.cloud.bigquery" or n.startswith("google.cloud.bigquery.")
                    for n in names
                ):
                    found.append(f"{relative}:{node.lineno}")
    return found


def test_only_the_adapter_imports_the_bigquery_client():
    """Every module outside the allowed ones reaches BigQuery through ``warehouse``."""
    assert bigquery_importers(Path(settings.BASE_DIR)) == []


def test_the_check_finds_an_import(tmp_path):
    """The scan sees both import forms (so the test above can fail)."""
    (tmp_path / "budgets").mkdir()
    (tmp_path / "budgets" / "x.py").write_text(
        "from google.cloud import bigquery\nimport google.cloud.bigquery.job\n"
    )
    assert bigquery_importers(tmp_path) == ["budgets/x.py:1", "budgets/x.py:2"]
