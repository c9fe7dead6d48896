"""Test-wide fixtures: a real BigQuery emulator, Azurite and Cloud Storage emulator for the
session, isolated local keyring."""

import uuid

import pytest
from django.conf import settings
from django.db import connection

from core.middleware import CharsetGuard
from devtools.azurite import (
    AzuriteError,
    azurite_account_url,
    azurite_command,
    azurite_start,
    azurite_wait,
)
from devtools.emulator import emulator_start, emulator_wait, free_port
from devtools.gcs_emulator import gcs_emulator_start, gcs_emulator_wait
from devtools.object_stores import s3_server_start, s3_server_stop, s3_server_wait


@pytest.fixture(scope="session")
def live_server(live_server):
    """pytest-django's live server behind the WSGI wrapper ``convergence.wsgi`` puts in front
    of Django in production, so requests to it meet what production's meet."""
    server = live_server.thread.httpd
    if not isinstance(server.get_app(), CharsetGuard):
        server.set_app(CharsetGuard(server.get_app()))
    return live_server


@pytest.fixture(scope="session", autouse=True)
def _isolated_keyring(tmp_path_factory):
    """Tests never touch a developer's real keyring."""
    settings.KMS_BACKEND = "local"
    settings.KMS_LOCAL_KEYRING_PATH = str(tmp_path_factory.mktemp("kms") / "keyring.json")


@pytest.fixture(scope="session")
def warehouse_endpoint(tmp_path_factory):
    """A real bqemulator process for the whole session, on a free port."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("bqemulator") / "emulator.log"
    process = emulator_start(project="convergence-test", rest_port=port, log_path=log_path)
    try:
        emulator_wait(endpoint, process=process)
        settings.WAREHOUSE_ENDPOINT = endpoint
        settings.WAREHOUSE_PROJECT = "convergence-test"
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=15)


def _stop(process) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except Exception:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def azure_blob_endpoint(tmp_path_factory):
    """A real Azurite blob server for the whole session, on a free port: the development
    account's URL (``devtools.azurite.ACCOUNT``, ``ACCOUNT_KEY``). Without Node.js or Azurite
    the tests that use it fail saying how to install them (CI has both)."""
    try:
        azurite_command()
    except AzuriteError as exc:
        pytest.fail(str(exc), pytrace=False)
    port = free_port()
    base = tmp_path_factory.mktemp("azurite")
    # die_with_parent: a killed test run leaves no server behind (session fixtures run in
    # pytest's main thread).
    process = azurite_start(
        port=port, location=base / "data", log_path=base / "azurite.log", die_with_parent=True
    )
    try:
        azurite_wait(f"http://127.0.0.1:{port}", process=process)
        settings.AZURE_BLOB_ENDPOINT = f"http://127.0.0.1:{port}"
        yield azurite_account_url(port)
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def gcs_endpoint(tmp_path_factory):
    """A real Cloud Storage emulator for the whole session, on a free port, in memory."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("gcs") / "gcs.log"
    process = gcs_emulator_start(port=port, log_path=log_path, die_with_parent=True)
    try:
        gcs_emulator_wait(endpoint, process=process)
        yield endpoint
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    """A real moto server (S3, STS, IAM) for the whole session, on a free port; the S3, STS
    and OCI endpoints point at it. It accepts any key (``s3_iam_endpoint`` enforces IAM)."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    directory = tmp_path_factory.mktemp("s3")
    process = s3_server_start(port=port, data_dir=directory, log_path=directory / "s3.log")
    previous = {
        name: getattr(settings, name, "")
        for name in ("S3_ENDPOINT_URL", "STS_ENDPOINT_URL", "OCI_S3_ENDPOINT_URL")
    }
    try:
        s3_server_wait(endpoint, process=process)
        for name in previous:
            setattr(settings, name, endpoint)
        yield endpoint
    finally:
        for name, value in previous.items():
            setattr(settings, name, value)
        s3_server_stop(process)


@pytest.fixture
def warehouse(warehouse_endpoint):
    from warehouse.bigquery import get_warehouse

    return get_warehouse()


@pytest.fixture
def scratch_dataset(warehouse):
    """A uniquely named dataset, dropped after the test."""
    dataset_id = f"scratch_{uuid.uuid4().hex[:12]}"
    warehouse.dataset_create(dataset_id)
    yield dataset_id
    warehouse.dataset_delete(dataset_id)


@pytest.fixture
def requires_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL (the CI run does)")


@pytest.fixture
def celery_worker(transactional_db, warehouse_endpoint):
    """A real Celery worker (thread pool, in this process) consuming the configured broker."""
    from celery.contrib.testing.worker import start_worker

    from convergence.celery import app

    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False) as worker:
        yield worker
