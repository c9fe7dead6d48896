"""In production, every BigQuery job of a tenant's work runs as the tenant, never the platform.

Checked at the HTTP level of the real clients against a stand-in for Google's token endpoint,
IAM, IAM Credentials and BigQuery: google-auth signs the platform's JWT with its key file,
impersonates the tenant's platform-managed account through ``generateAccessToken``, or signs
a JWT with the tenant's own stored key, and each request shows which identity it carried.
"""

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pipelines.configs import pipeline_config_get
from pipelines.processors import StepContext, processor_for
from pipelines.tests.bigquery_standin import BigQueryStandin
from tenants.models import ProviderConfig
from tenants.selectors import run_inputs_for_tenant
from tenants.services.audit import Actor
from tenants.services.credentials import credential_store
from tenants.tests.conftest import key_client
from warehouse.bigquery import get_warehouse
from warehouse.datasets import tenant_dataset_provision
from warehouse.iam import managed_identity
from warehouse.isolation import AccessRefused
from warehouse.tenant import tenant_warehouse

PLATFORM = "convergence-platform@convergence-prod.iam.gserviceaccount.com"
TENANT_OWN = "convergence-reader@delta-gcp-1.iam.gserviceaccount.com"
EXPORT = "delta-gcp-1.billing.gcp_billing_export_v1"
IDENTITY_PROJECTS = ["convergence-ids-0", "convergence-ids-1", "convergence-ids-2"]
# Control-plane calls: the only ones the platform's own token may carry.
CONTROL_PLANE = ("/token", "serviceAccounts", ":generateAccessToken", "/datasets")


@pytest.fixture
def standin():
    server = BigQueryStandin().start()
    yield server
    server.stop()


@pytest.fixture
def delta(onboard):
    return onboard("id_delta")


def _service_account_key(email: str, project: str, token_uri: str) -> dict:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": email,
        "client_id": "1",
        "token_uri": token_uri,
    }


@pytest.fixture
def production(settings, standin, delta, tmp_path):
    """Settings as in production, with Google's endpoints on the stand-in.

    The platform's own key file is a real service-account key whose token endpoint is the
    stand-in's, so its requests carry a token the stand-in knows as the platform."""
    key_file = tmp_path / "platform.json"
    key_file.write_text(
        json.dumps(_service_account_key(PLATFORM, "convergence-prod", f"{standin.endpoint}/token"))
    )
    settings.WAREHOUSE_TENANT_IDENTITY = True
    settings.WAREHOUSE_ENDPOINT = standin.endpoint
    settings.WAREHOUSE_IAM_ENDPOINT = standin.endpoint
    settings.WAREHOUSE_PROJECT = "convergence-prod"
    settings.WAREHOUSE_IDENTITY_PROJECTS = IDENTITY_PROJECTS
    settings.WAREHOUSE_CREDENTIALS_FILE = str(key_file)
    return standin


@pytest.fixture
def managed(production, delta):
    """delta onboarded in production: its service account exists (and is granted its dataset)."""
    tenant_dataset_provision(tenant_id="id_delta")
    production.received.clear()
    return managed_identity("id_delta")


def _context(delta) -> StepContext:
    inputs = run_inputs_for_tenant(tenant_id="id_delta", provider="gcp")
    config = pipeline_config_get("gcp", "cost", "billing")
    return StepContext(
        warehouse=get_warehouse(),
        tenant_id="id_delta",
        dataset_id=delta.dataset_id,
        params=config.typed_parameters({"date": "2024-01-02"}),
        variables={**config.variables, **inputs.variables},
        sources=inputs.sources,
        buckets=inputs.buckets,
        service_account=inputs.service_account,
    )


def _run_billing(delta) -> None:
    step = pipeline_config_get("gcp", "cost", "billing").steps[0]
    processor_for(step).run(_context(delta).for_step(step))


def _own_credential(delta, standin):
    return credential_store(
        tenant=delta.tenant,
        provider="gcp",
        kind="gcp_service_account",
        name="reader",
        secret=_service_account_key(TENANT_OWN, "delta-gcp-1", f"{standin.endpoint}/token"),
        actor=Actor.system("test"),
    )


def _platform_only_on_control_plane(standin) -> None:
    platform = [r for r in standin.received if standin.identity(r) == PLATFORM]
    assert all(any(part in r.path for part in CONTROL_PLANE) for r in platform), [
        r.path for r in platform
    ]
    assert not [r for r in standin.job_inserts() if standin.identity(r) == PLATFORM]


def test_onboarding_creates_the_tenants_account_and_grants_it_the_dataset_only(production, delta):
    """The platform creates the account (IAM API) in one of the identity projects and adds it
    to the tenant dataset's access list as WRITER; no other dataset or project is granted."""
    identity = managed_identity("id_delta")

    tenant_dataset_provision(tenant_id="id_delta")

    assert identity.project in IDENTITY_PROJECTS
    creates = [r for r in production.received if r.path.endswith("/serviceAccounts")]
    assert [(r.method, r.path) for r in creates] == [
        ("POST", f"/v1/projects/{identity.project}/serviceAccounts")
    ]
    assert creates[0].body["accountId"] == identity.account_id
    assert production.identity(creates[0]) == PLATFORM
    grants = [r for r in production.received if r.method == "PATCH"]
    assert [r.path for r in grants] == [
        f"/bigquery/v2/projects/convergence-prod/datasets/{delta.dataset_id}"
    ]
    assert grants[0].body["access"] == [{"role": "WRITER", "userByEmail": identity.email}]
    assert production.identity(grants[0]) == PLATFORM
    assert not [r for r in production.received if "IamPolicy" in r.path]
    _platform_only_on_control_plane(production)
    # A retried onboarding reuses the account (IAM answers 409) and grants nothing twice.
    production.received.clear()
    tenant_dataset_provision(tenant_id="id_delta")
    assert not [r for r in production.received if r.method == "PATCH"]


def test_tenant_accounts_are_spread_over_the_identity_projects(settings):
    """Accounts shard over the projects by a stable hash: each project's quota holds a share."""
    settings.WAREHOUSE_IDENTITY_PROJECTS = IDENTITY_PROJECTS
    identities = [managed_identity(f"tenant_{n:05d}") for n in range(3000)]
    per_project = {p: sum(i.project == p for i in identities) for p in IDENTITY_PROJECTS}
    assert all(800 < n < 1200 for n in per_project.values()), per_project
    assert managed_identity("tenant_00001") == identities[1]
    assert len({i.email for i in identities}) == 3000
    assert all(6 <= len(i.account_id) <= 30 for i in identities)


def test_a_runs_jobs_carry_the_tenants_managed_account(production, managed, delta):
    """Every job of the run, own-dataset work and the foreign export read alike, acts as the
    tenant's managed account and runs in its project; the platform only mints its token."""
    ProviderConfig.objects.create(
        tenant=delta.tenant, provider="gcp", settings={"billing_export_table": EXPORT}
    )

    _run_billing(delta)

    inserts = production.job_inserts()
    assert inserts and {production.identity(r) for r in inserts} == {managed.email}
    assert {r.path for r in inserts} == {f"/bigquery/v2/projects/{managed.project}/jobs"}
    reading = [r for r in inserts if EXPORT in r.body["configuration"]["query"]["query"]]
    assert len(reading) == 1
    minted = [r for r in production.received if r.path.endswith(":generateAccessToken")]
    assert [r.path for r in minted] == [
        f"/v1/projects/-/serviceAccounts/{managed.email}:generateAccessToken"
    ]
    assert production.identity(minted[0]) == PLATFORM
    _platform_only_on_control_plane(production)


def test_a_foreign_read_carries_the_tenants_own_account(production, managed, delta):
    """With the tenant's own key stored, the export read acts as that account in its project;
    own-dataset work stays on the managed account. The key never travels."""
    ProviderConfig.objects.create(
        tenant=delta.tenant,
        provider="gcp",
        settings={"billing_export_table": EXPORT},
        credential=_own_credential(delta, production),
    )

    _run_billing(delta)

    inserts = production.job_inserts()
    reading = [r for r in inserts if EXPORT in r.body["configuration"]["query"]["query"]]
    assert len(reading) == 1
    assert production.identity(reading[0]) == TENANT_OWN
    assert reading[0].path == "/bigquery/v2/projects/delta-gcp-1/jobs"
    own = [r for r in inserts if r not in reading]
    assert own and {production.identity(r) for r in own} == {managed.email}
    grants = [r for r in production.received if r.method == "PATCH"]
    assert {"role": "WRITER", "userByEmail": TENANT_OWN} in grants[0].body["access"]
    assert production.identity(grants[0]) == PLATFORM
    token_calls = [r for r in production.received if r.path == "/token"]
    assert token_calls and "BEGIN PRIVATE KEY" not in str([r.body for r in token_calls])
    _platform_only_on_control_plane(production)


def test_budget_anomaly_and_preview_reads_act_as_the_tenant(production, managed, delta):
    """``tenant_warehouse()`` is what budgets, anomalies and mapping previews use: its jobs
    and its table lookups carry the managed account's token."""
    wh = tenant_warehouse(tenant_id="id_delta")

    wh.query(f"SELECT COUNT(*) AS n FROM {wh.quoted(delta.dataset_id, 'focus_costs')}")

    assert [production.identity(r) for r in production.job_inserts()] == [managed.email]
    lookups = [r for r in production.received if "/tables/" in r.path]
    assert lookups and {production.identity(r) for r in lookups} == {managed.email}
    _platform_only_on_control_plane(production)


@pytest.mark.parametrize(
    "table",
    [
        {
            "type": "EXTERNAL",
            "externalDataConfiguration": {
                "sourceUris": ["gs://delta-cur/2024/*.csv"],
                "sourceFormat": "CSV",
            },
        },
        {"type": "VIEW", "view": {"query": f"SELECT * FROM `{EXPORT}`", "useLegacySql": False}},
    ],
    ids=["external-table-over-a-registered-bucket", "view-over-a-registered-source"],
)
def test_what_an_own_table_reaches_chooses_the_identity(production, managed, delta, table):
    """Finding 2: an external table or view in the tenant's own dataset over its sources is
    read as the tenant's own account, as the sources are: the identity is chosen from
    everything the statement reaches, not only from the tables it names."""
    ProviderConfig.objects.create(
        tenant=delta.tenant,
        provider="gcp",
        settings={"billing_export_table": EXPORT, "source_buckets": "delta-cur"},
        credential=_own_credential(delta, production),
    )
    production.tables[f"convergence-prod.{delta.dataset_id}.export_over"] = table
    wh = _context(delta).warehouse

    wh.query(f"SELECT * FROM {wh.quoted(delta.dataset_id, 'export_over')}")

    assert [production.identity(r) for r in production.job_inserts()] == [TENANT_OWN]


def test_a_source_view_reaching_into_the_platform_project_is_refused(production, managed, delta):
    """Finding 1: a view in the tenant's own GCP project (its registered source) whose query
    reads another tenant's dataset in the platform project is refused before any job, naming
    the rule; the view is looked up as the tenant, never as the platform."""
    ProviderConfig.objects.create(
        tenant=delta.tenant, provider="gcp", settings={"billing_export_table": EXPORT}
    )
    production.tables[EXPORT] = {
        "type": "VIEW",
        "view": {"query": "SELECT * FROM `convergence-prod.other_prod.gcp_cost_billing`"},
    }

    with pytest.raises(AccessRefused, match="may read only its tenant's dataset"):
        _run_billing(delta)

    assert production.job_inserts() == []
    lookups = [r for r in production.received if r.path.endswith("/gcp_billing_export_v1")]
    assert lookups and {production.identity(r) for r in lookups} == {managed.email}


def test_the_provider_config_names_the_account_the_tenant_grants(settings, delta):
    """The tenant learns from its provider configs which account to grant on its export and
    buckets (docs/isolation.md, step 1); locally, without tenant identities, none."""
    client = key_client(delta.api_key)
    ProviderConfig.objects.create(
        tenant=delta.tenant, provider="gcp", settings={"billing_export_table": EXPORT}
    )
    settings.WAREHOUSE_IDENTITY_PROJECTS = IDENTITY_PROJECTS
    settings.WAREHOUSE_TENANT_IDENTITY = True
    listed = client.get("/api/v1/tenants/id_delta/provider-configs").json()
    assert [c["reader_account"] for c in listed] == [managed_identity("id_delta").email]
    settings.WAREHOUSE_TENANT_IDENTITY = False
    listed = client.get("/api/v1/tenants/id_delta/provider-configs").json()
    assert [c["reader_account"] for c in listed] == [None]
