"""In production, reads outside the platform act as the tenant's own service account.

Checked at the HTTP level of the real clients: google-auth signs a JWT with the tenant's key
(from the KMS-encrypted credential store) and trades it for a token at the stand-in's token
endpoint; each BigQuery request shows which identity it carried.
"""

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
from warehouse.bigquery import get_warehouse
from warehouse.identity import tenant_warehouse_factory
from warehouse.isolation import AccessRefused

SERVICE_ACCOUNT = "convergence-reader@delta-gcp-1.iam.gserviceaccount.com"
EXPORT = "delta-gcp-1.billing.gcp_billing_export_v1"


@pytest.fixture
def standin():
    server = BigQueryStandin().start()
    yield server
    server.stop()


@pytest.fixture
def delta(onboard):
    return onboard("id_delta")


@pytest.fixture
def production_warehouse(settings, standin, delta):
    """Settings as in production, but with BigQuery and the token endpoint on the stand-in."""
    settings.WAREHOUSE_TENANT_IDENTITY = True
    settings.WAREHOUSE_ENDPOINT = standin.endpoint
    settings.WAREHOUSE_PROJECT = "convergence-prod"
    return get_warehouse()


def _service_account_key(token_uri: str) -> dict:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": "delta-gcp-1",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": SERVICE_ACCOUNT,
        "client_id": "1",
        "token_uri": token_uri,
    }


def _context(delta, warehouse) -> StepContext:
    inputs = run_inputs_for_tenant(tenant_id="id_delta", provider="gcp")
    config = pipeline_config_get("gcp", "cost", "billing")
    return StepContext(
        warehouse=warehouse,
        tenant_id="id_delta",
        dataset_id=delta.dataset_id,
        params=config.typed_parameters({"date": "2024-01-02"}),
        variables={**config.variables, **inputs.variables},
        sources=inputs.sources,
        buckets=inputs.buckets,
        tenant_warehouse=tenant_warehouse_factory(
            dataset_id=delta.dataset_id, service_account=inputs.service_account
        ),
    )


def test_a_billing_export_is_read_as_the_tenant_and_stored_as_the_platform(
    delta, standin, production_warehouse
):
    """The export query runs as the tenant's account in its project; own-dataset work does not.

    The tenant's account is granted write on the tenant's dataset only, so the job can store
    what it read there; BigQuery's IAM, not only this app, stops it reading anyone else's.
    """
    credential = credential_store(
        tenant=delta.tenant,
        provider="gcp",
        kind="gcp_service_account",
        name="reader",
        secret=_service_account_key(f"{standin.endpoint}/token"),
        actor=Actor.system("test"),
    )
    ProviderConfig.objects.create(
        tenant=delta.tenant,
        provider="gcp",
        settings={"billing_export_table": EXPORT},
        credential=credential,
    )
    context = _context(delta, production_warehouse)
    step = pipeline_config_get("gcp", "cost", "billing").steps[0]

    processor_for(step).run(context.for_step(step))

    inserts = standin.job_inserts()
    reading = [r for r in inserts if EXPORT in r.body["configuration"]["query"]["query"]]
    assert len(reading) == 1
    assert standin.identity(reading[0]) == SERVICE_ACCOUNT
    assert reading[0].path == "/bigquery/v2/projects/delta-gcp-1/jobs"
    own = [r for r in inserts if r not in reading]
    assert own and {standin.identity(r) for r in own} == {"platform"}
    assert all(r.path.startswith("/bigquery/v2/projects/convergence-prod/") for r in own)
    grants = [r for r in standin.received if r.method == "PATCH"]
    assert [r.path for r in grants] == [
        f"/bigquery/v2/projects/convergence-prod/datasets/{delta.dataset_id}"
    ]
    assert {"role": "WRITER", "userByEmail": SERVICE_ACCOUNT} in grants[0].body["access"]
    assert standin.identity(grants[0]) == "platform"
    # The key never travels: only the signed assertion reaches the token endpoint.
    token_calls = [r for r in standin.received if r.path == "/token"]
    assert len(token_calls) == 1 and "BEGIN PRIVATE KEY" not in str(token_calls[0].body)


def test_without_the_tenants_credential_an_outside_read_is_refused(
    delta, standin, production_warehouse
):
    """No service account on the gcp config: refused before any BigQuery job, naming why."""
    ProviderConfig.objects.create(
        tenant=delta.tenant, provider="gcp", settings={"billing_export_table": EXPORT}
    )
    context = _context(delta, production_warehouse)
    step = pipeline_config_get("gcp", "cost", "billing").steps[0]

    with pytest.raises(AccessRefused, match="attach a GCP service-account credential"):
        processor_for(step).run(context.for_step(step))
    assert standin.job_inserts() == []
