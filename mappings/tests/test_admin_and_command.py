"""Staff define mappings in the admin (validated, every problem shown) that every tenant can
run; the ``mapping_preview`` command dry-runs a mapping from the shell."""

import io
import socket
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from mappings.models import FocusMapping
from mappings.selectors import mapped_pipeline_config, mapping_spec_for_tenant
from pipelines.configs import PipelineConfigNotFound

ROOT = Path(__file__).parents[2]
OCI = (ROOT / "mappings" / "library" / "oci.yml").read_text()
SAMPLE = Path(__file__).parent / "data" / "oci_cost_report_sample.csv"
ADD = "/admin/mappings/focusmapping/add/"


def staff_oci(name: str = "acme_oci") -> str:
    return OCI.replace("name: oci\n", f"name: {name}\n")


@pytest.mark.django_db
def test_staff_add_a_mapping_every_tenant_can_run(admin_client, onboard):
    """A staff mapping (no tenant) is stored once valid and resolves for any tenant."""
    tenant = onboard("staffmap_co")
    response = admin_client.post(
        ADD, {"tenant": "", "name": "acme_oci", "description": "", "definition": staff_oci()}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    row = FocusMapping.objects.get()
    assert row.tenant_id is None
    assert row.description.startswith("Oracle Cloud Infrastructure")
    spec = mapping_spec_for_tenant(tenant_id=tenant.tenant.id, name="acme_oci")
    assert spec is not None and spec.billed_cost == "cost_myCost"
    config = mapped_pipeline_config(
        tenant_id=tenant.tenant.id, provider="acme_oci", domain="cost", pipeline="focus"
    )
    assert config.key == "acme_oci/cost/focus"
    assert config.variables["focus_table"] == "acme_oci_cost_focus"


@pytest.mark.django_db
def test_the_admin_refuses_an_invalid_mapping_listing_each_problem(admin_client):
    broken = staff_oci().replace("decimal(cost_myCost)", "sql(cost_myCost)", 1)
    response = admin_client.post(
        ADD, {"tenant": "", "name": "acme_oci", "description": "", "definition": broken}
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["definition"]
    assert errors == [
        "mapping 'acme_oci': BilledCost: 'sql(cost_myCost)': unknown function 'sql' (allowed: "
        "case, coalesce, concat, decimal, if_set, json, json_by_prefix, lookup, lower, month_end, "
        "month_start, timestamp, trim, upper)"
    ]
    reserved = admin_client.post(
        ADD, {"tenant": "", "name": "aws", "description": "", "definition": staff_oci("aws")}
    )
    assert "built-in provider" in str(reserved.context["adminform"].form.errors["name"])
    assert not FocusMapping.objects.exists()


@pytest.mark.django_db
def test_a_tenants_own_mapping_wins_and_others_do_not_see_it(onboard):
    a, b = onboard("own_a"), onboard("own_b")
    FocusMapping.objects.create(tenant=None, name="shared", definition=staff_oci("shared"))
    mine = staff_oci("shared").replace("'Oracle'", "'Oracle (mine)'")
    FocusMapping.objects.create(tenant=a.tenant, name="shared", definition=mine)
    assert mapping_spec_for_tenant(tenant_id="own_a", name="shared").expressions[
        "PublisherName"
    ] == ("'Oracle (mine)'")
    assert mapping_spec_for_tenant(tenant_id="own_b", name="shared").expressions[
        "PublisherName"
    ] == ("'Oracle'")
    FocusMapping.objects.create(tenant=a.tenant, name="only_a", definition=staff_oci("only_a"))
    assert mapping_spec_for_tenant(tenant_id=b.tenant.id, name="only_a") is None
    with pytest.raises(PipelineConfigNotFound, match="neither a built-in provider"):
        mapped_pipeline_config(
            tenant_id=b.tenant.id, provider="only_a", domain="cost", pipeline="focus"
        )


@pytest.mark.django_db
def test_mapping_preview_command_prints_rows_empty_columns_and_rules(onboard):
    onboard("cmd_co")
    out = io.StringIO()
    call_command(
        "mapping_preview", "oci", str(SAMPLE), "--tenant", "cmd_co", "--rows", "3", stdout=out
    )
    text = out.getvalue()
    assert "oci: 3 sample rows read" in text
    assert "2023-11-13T00:00:00+00:00  COMPUTE  Compute  Usage  0.783" in text
    assert "Required FOCUS columns left empty: none" in text
    assert "FOCUS MUST rules broken: none" in text


@pytest.mark.django_db
def test_mapping_preview_command_reports_an_invalid_file(onboard, tmp_path):
    onboard("cmd_co")
    path = tmp_path / "mine.yml"
    path.write_text(staff_oci("mine").replace("  BilledCost: decimal(cost_myCost)\n", ""))
    with pytest.raises(CommandError, match=r"mine\.yml: BilledCost: missing"):
        call_command("mapping_preview", str(path), str(SAMPLE), "--tenant", "cmd_co")


@pytest.mark.django_db
def test_mapping_preview_command_says_when_the_warehouse_does_not_answer(onboard, settings):
    onboard("cmd_co")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.WAREHOUSE_ENDPOINT = f"http://127.0.0.1:{port}"
    settings.WAREHOUSE_RETRY_SECONDS = 1
    with pytest.raises(CommandError, match=r"did not answer; locally, run this with `make run`"):
        call_command("mapping_preview", "oci", str(SAMPLE), "--tenant", "cmd_co", "--rows", "3")
