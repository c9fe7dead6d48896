"""Bad input to the run API: bounded pages, checks at admission, nothing created on refusal."""

import pytest

from pipelines.models import PipelineRun
from tenants.models import UsageWindow
from tenants.tests.conftest import key_client


@pytest.fixture
def tenant(onboard):
    return onboard()


@pytest.mark.parametrize(
    "query",
    [
        "limit=9223372036854775808",
        "offset=9223372036854775808",
        "limit=0",
        "limit=501",
        "limit=abc",
        "trigger=",
        "status=",
        "colour=red",
    ],
)
def test_runs_list_bounds_are_400(tenant, query):
    """Out-of-range pages, blank filters and unknown parameters are a 400 naming them."""
    response = key_client(tenant.api_key).get(f"/api/v1/tenants/{tenant.tenant.id}/runs?{query}")
    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith(query.split("=")[0])


def test_runs_list_is_a_page(tenant):
    response = key_client(tenant.api_key).get(
        f"/api/v1/tenants/{tenant.tenant.id}/runs?limit=500&offset=0"
    )
    assert response.status_code == 200
    assert set(response.json()) == {"count", "next", "previous", "results"}


def test_missing_source_file_is_refused_at_admission(tenant, settings, tmp_path):
    """A run naming a file that is not in the tenant's imports folder is a 400: no run is
    created and no quota is used (it used to be admitted and fail at load time)."""
    settings.PIPELINE_LOCAL_FILES_DIR = tmp_path
    (tmp_path / tenant.tenant.id).mkdir()
    response = key_client(tenant.api_key).post(
        f"/api/v1/pipelines/run/{tenant.tenant.id}/aws/cost/focus",
        {"date": "2023-09-02", "source_file": "nope.csv"},
        format="json",
    )
    assert response.status_code == 400, response.json()
    detail = response.json()["detail"]
    assert "'nope.csv'" in detail and str(tmp_path) not in detail
    assert not PipelineRun.objects.exists()
    assert set(UsageWindow.objects.values_list("runs_used", flat=True)) <= {0}


def test_existing_source_file_is_admitted(tenant, settings, tmp_path):
    settings.PIPELINE_LOCAL_FILES_DIR = tmp_path
    (tmp_path / tenant.tenant.id).mkdir()
    (tmp_path / tenant.tenant.id / "cur.csv").write_text("a,b\n1,2\n")
    response = key_client(tenant.api_key).post(
        f"/api/v1/pipelines/run/{tenant.tenant.id}/aws/cost/focus",
        {"date": "2023-09-02", "source_file": "cur.csv"},
        format="json",
    )
    assert response.status_code == 202, response.json()
