"""``GET /health`` reports each component and answers 503 naming what is down."""

import pytest

from devtools.emulator import free_port


@pytest.mark.django_db
def test_all_components_ok(client, warehouse_endpoint):
    """With database, broker, emulator and keyring reachable, health is 200 and all ok."""
    response = client.get("/health")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert {name: c["status"] for name, c in body["components"].items()} == {
        "database": "ok",
        "broker": "ok",
        "warehouse": "ok",
        "kms": "ok",
    }


@pytest.mark.django_db
def test_warehouse_down_is_503(client, settings):
    """An unreachable warehouse makes health 503 and names the warehouse only."""
    settings.WAREHOUSE_ENDPOINT = f"http://127.0.0.1:{free_port()}"
    response = client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["components"]["warehouse"]["status"] == "down"
    assert body["components"]["database"]["status"] == "ok"
    assert body["detail"] == "Unavailable: warehouse"


@pytest.mark.django_db
def test_broker_down_is_503(client, settings, warehouse_endpoint):
    """An unreachable broker makes health 503 and names the broker."""
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["detail"] == "Unavailable: broker"


@pytest.mark.django_db
def test_kms_down_is_503(client, settings, warehouse_endpoint, tmp_path):
    """A keyring that cannot be read or created makes health 503 and names KMS."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings.KMS_LOCAL_KEYRING_PATH = str(blocker / "keyring.json")
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["detail"] == "Unavailable: kms"


def test_openapi_schema_and_docs(client):
    """The OpenAPI schema and its docs page are served without a login."""
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/health" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
