"""Fixtures for the costs tests: a tenant whose FOCUS tables were written by the real
pipelines from the shipped samples (AWS CUR, Azure EA, the OCI mapping, native FOCUS)."""

import shutil
from pathlib import Path

import pytest

from pipelines.configs import pipeline_config_resolve
from pipelines.processors import StepContext, processor_for
from tenants.tests.conftest import api_client, key_client, onboard, staff_client  # noqa: F401
from warehouse.tenant import tenant_warehouse

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = {
    # provider: (sample file, the FOCUS table its pipeline writes)
    "aws": (ROOT / "pipelines/tests/data/aws_cur_sample.csv", "aws_cost_focus"),
    "azure": (ROOT / "pipelines/tests/data/azure_ea_sample.csv", "azure_cost_focus"),
    "oci": (ROOT / "mappings/tests/data/oci_cost_report_sample.csv", "oci_cost_focus"),
    "focus": (ROOT / "pipelines/tests/data/focus_1_0_sample.csv", "focus_cost_native"),
}
PIPELINES = {"aws": "focus", "azure": "focus", "oci": "focus", "focus": "native"}


def focus_load(tenant_id: str, dataset_id: str, provider: str, imports: Path) -> None:
    """Run ``provider``'s FOCUS pipeline on its sample for the tenant, step by step as the
    engine does, through the tenant's guarded warehouse."""
    sample, _ = SAMPLES[provider]
    shutil.copy(sample, imports / sample.name)
    config = pipeline_config_resolve(provider, "cost", PIPELINES[provider], tenant_id=tenant_id)
    context = StepContext(
        warehouse=tenant_warehouse(tenant_id=tenant_id),
        tenant_id=tenant_id,
        dataset_id=dataset_id,
        params=config.typed_parameters(
            config.resolve_parameters({"source_file": sample.name}, tenant_id=tenant_id)
        ),
        variables=dict(config.variables),
        run_id=f"run-{provider}",
        provider=provider,
    )
    for step in config.steps:
        if step.runs_on == "success" and step.ps_type != "focus.anomalies":
            processor_for(step).run(context.for_step(step))


@pytest.fixture
def imports(settings, tmp_path):
    settings.PIPELINE_LOCAL_FILES_DIR = str(tmp_path)
    return tmp_path


@pytest.fixture
def four_sources(onboard, imports):  # noqa: F811
    """An onboarded tenant with AWS, Azure, OCI (mapping) and native FOCUS costs loaded."""
    onboarded = onboard()
    folder = imports / onboarded.tenant.pk
    folder.mkdir()
    for provider in SAMPLES:
        focus_load(onboarded.tenant.pk, onboarded.dataset_id, provider, folder)
    return onboarded
