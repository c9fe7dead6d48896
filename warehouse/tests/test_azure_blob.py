"""The Azure Blob Storage export store, against a real Azurite (the ``azure_blob_endpoint``
session fixture): paged listing, bounded reads, ranged heads, streamed parts, shared-key and SAS
access, and errors that name the container and never a credential."""

import base64
import ipaddress
import json
import os
import ssl
import threading
import time
import urllib.parse
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from azure.storage.blob import (
    BlobServiceClient,
    ContainerSasPermissions,
    generate_container_sas,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from devtools.azurite import ACCOUNT, ACCOUNT_KEY, azurite_account_url, azurite_start, azurite_wait
from devtools.emulator import free_port
from warehouse.azure_blob import CHUNK_BYTES, azure_blob_store
from warehouse.exports import (
    ExportAccessDenied,
    ExportNotFound,
    ExportStoreError,
)


@pytest.fixture
def container(azure_blob_endpoint):
    """A fresh container on Azurite's development account, deleted after the test."""
    service = BlobServiceClient(
        azure_blob_endpoint, credential={"account_name": ACCOUNT, "account_key": ACCOUNT_KEY}
    )
    name = f"exports-{uuid.uuid4().hex[:12]}"
    client = service.create_container(name)
    yield client
    client.delete_container()


def _store(endpoint, container, **kwargs):
    kwargs.setdefault("account_key", ACCOUNT_KEY)
    return azure_blob_store(account_url=endpoint, container=container.container_name, **kwargs)


def _sas_url(endpoint, container, permission, expiry=None):
    token = generate_container_sas(
        ACCOUNT,
        container.container_name,
        account_key=ACCOUNT_KEY,
        permission=permission,
        expiry=expiry or datetime.now(UTC) + timedelta(hours=1),
    )
    return f"{endpoint}/{container.container_name}?{token}", token


def test_list_walks_every_page_in_key_order(azure_blob_endpoint, container):
    """Seven blobs under the prefix listed two a page come back all seven, in key order, with
    their size and etag; blobs outside the prefix are not listed."""
    names = [f"exp/2024/part_{i}.csv" for i in (3, 0, 6, 1, 5, 2, 4)]
    for i, name in enumerate(names):
        container.upload_blob(name, b"x" * (i + 1))
    container.upload_blob("other/part.csv", b"y")
    urls = []
    store = _store(
        azure_blob_endpoint,
        container,
        page_size=2,
        raw_response_hook=lambda response: urls.append(response.http_request.url),
    )

    objects = list(store.list("exp/"))

    assert [o.key for o in objects] == sorted(names)
    sizes = {name: i + 1 for i, name in enumerate(names)}
    assert [o.size for o in objects] == [sizes[o.key] for o in objects]
    assert all(o.etag and '"' not in o.etag for o in objects)
    assert all(o.last_modified.tzinfo is not None for o in objects)
    listings = [u for u in urls if "comp=list" in u]
    assert len(listings) == 4  # 2 + 2 + 2 + 1
    assert sum("marker=" in u for u in listings) == 3
    assert store.location == f"azure://{ACCOUNT}/{container.container_name}"


def test_read_returns_a_manifest_and_refuses_a_bigger_blob(azure_blob_endpoint, container):
    """A manifest is read whole; a blob past max_bytes is refused by name, not downloaded."""
    container.upload_blob("exp/manifest.json", b'{"blobs": []}')
    container.upload_blob("exp/part_0.csv", b"a" * 5000)
    store = _store(azure_blob_endpoint, container)

    assert store.read("exp/manifest.json") == b'{"blobs": []}'
    with pytest.raises(ExportStoreError, match=r"exp/part_0\.csv: 5000 bytes, more than the 100"):
        store.read("exp/part_0.csv", max_bytes=100)


def test_head_reads_only_the_first_bytes(azure_blob_endpoint, container):
    """head() asks for one range and returns exactly its bytes; a short blob comes whole."""
    container.upload_blob(
        "exp/part.csv", b"Date,CostInBillingCurrency\n" + b"2024-01-01,1\n" * 1000
    )
    container.upload_blob("exp/short.csv", b"a,b\n")
    requests = []
    store = _store(
        azure_blob_endpoint,
        container,
        raw_request_hook=lambda request: requests.append(request.http_request.headers),
    )

    assert store.read_head("exp/part.csv", size=27) == b"Date,CostInBillingCurrency\n"
    assert store.read_head("exp/short.csv", size=1024) == b"a,b\n"
    assert requests[0]["x-ms-range"] == "bytes=0-26"


def test_open_streams_a_part_range_by_range(azure_blob_endpoint, container):
    """A part bigger than two ranges is read back byte for byte, downloaded in ranges of at
    most CHUNK_BYTES, so never held whole."""
    data = os.urandom(2 * CHUNK_BYTES + 12345)
    container.upload_blob("exp/part_0.csv.gz", data)
    ranges = []

    def hook(request):
        if "x-ms-range" in request.http_request.headers:
            ranges.append(request.http_request.headers["x-ms-range"])

    store = _store(azure_blob_endpoint, container, raw_request_hook=hook)

    with store.open("exp/part_0.csv.gz") as stream:
        chunks = []
        while chunk := stream.read(1 << 20):
            chunks.append(chunk)
    assert b"".join(chunks) == data
    assert len(ranges) == 3
    spans = [tuple(int(n) for n in r.removeprefix("bytes=").split("-")) for r in ranges]
    assert all(end - start + 1 <= CHUNK_BYTES for start, end in spans)


def test_a_part_rewritten_while_read_fails_by_name(azure_blob_endpoint, container):
    """A part the provider rewrites while it is being read fails the read (naming it) instead
    of mixing the old and the new bytes."""
    container.upload_blob("exp/part_0.csv", os.urandom(2 * CHUNK_BYTES))
    store = _store(azure_blob_endpoint, container)

    stream = store.open("exp/part_0.csv")
    stream.read(1024)
    container.upload_blob("exp/part_0.csv", os.urandom(2 * CHUNK_BYTES), overwrite=True)
    with pytest.raises(ExportStoreError, match=r"exp/part_0\.csv: the blob changed while it"):
        while stream.read(1 << 20):
            pass


def test_a_container_sas_url_lists_and_reads(azure_blob_endpoint, container):
    """A container SAS URL (read + list) is a way in on its own: the account and container come
    from it, and the store's location shows neither the token nor its signature."""
    container.upload_blob("exp/manifest.json", b"{}")
    sas_url, _ = _sas_url(
        azure_blob_endpoint, container, ContainerSasPermissions(read=True, list=True)
    )

    store = azure_blob_store(account_url="", container="", sas_url=sas_url)

    assert [o.key for o in store.list("exp/")] == ["exp/manifest.json"]
    assert store.read("exp/manifest.json") == b"{}"
    assert store.location == f"azure://{ACCOUNT}/{container.container_name}"
    assert "sig=" not in store.location


def test_a_sas_url_for_another_container_is_refused_without_its_token(
    azure_blob_endpoint, container
):
    """A SAS URL that does not match the configured container is refused before any request,
    naming both containers and not the token."""
    sas_url, token = _sas_url(azure_blob_endpoint, container, ContainerSasPermissions(read=True))
    with pytest.raises(ExportStoreError, match="not 'billing'") as caught:
        azure_blob_store(account_url="", container="billing", sas_url=sas_url)
    assert token not in str(caught.value)


def test_a_sas_without_list_permission_is_access_denied(azure_blob_endpoint, container):
    """A SAS token that may read but not list: listing the export is access denied, naming the
    container, and the message holds no part of the token."""
    sas_url, token = _sas_url(azure_blob_endpoint, container, ContainerSasPermissions(read=True))
    store = azure_blob_store(account_url="", container="", sas_url=sas_url)

    with pytest.raises(ExportAccessDenied, match=container.container_name) as caught:
        list(store.list("exp/"))
    message = str(caught.value)
    assert "sig=" not in message
    assert token.split("sig=")[1][:12] not in message


def test_an_expired_sas_is_access_denied(azure_blob_endpoint, container):
    """An expired SAS token is refused as access denied, by container."""
    sas_url, _ = _sas_url(
        azure_blob_endpoint,
        container,
        ContainerSasPermissions(read=True, list=True),
        expiry=datetime.now(UTC) - timedelta(minutes=5),
    )
    store = azure_blob_store(account_url="", container="", sas_url=sas_url)

    with pytest.raises(ExportAccessDenied, match=f"azure://{ACCOUNT}/{container.container_name}"):
        list(store.list(""))


def test_a_wrong_key_is_access_denied_naming_the_container_not_the_key(
    azure_blob_endpoint, container
):
    """The wrong account key: access denied, the message names the container and holds no part
    of the key given."""
    wrong_key = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk" + "A" * 45 + "=="
    store = _store(azure_blob_endpoint, container, account_key=wrong_key)

    with pytest.raises(ExportAccessDenied) as caught:
        list(store.list("exp/"))
    message = str(caught.value)
    assert f"azure://{ACCOUNT}/{container.container_name}" in message
    assert wrong_key[:10] not in message
    assert ACCOUNT_KEY[:10] not in message


def test_an_unknown_container_and_blob_are_not_found(azure_blob_endpoint, container):
    """No such container, no such blob: ExportNotFound naming it."""
    missing = azure_blob_store(
        account_url=azure_blob_endpoint, container="no-such-container", account_key=ACCOUNT_KEY
    )
    with pytest.raises(ExportNotFound, match=f"azure://{ACCOUNT}/no-such-container: no such"):
        list(missing.list(""))
    store = _store(azure_blob_endpoint, container)
    with pytest.raises(ExportNotFound, match=r"exp/part_9\.csv: no such blob"):
        store.open("exp/part_9.csv")
    with pytest.raises(ExportNotFound, match=r"exp/manifest\.json: no such blob"):
        store.read("exp/manifest.json")


def test_an_unreachable_account_is_named_as_such(settings):
    """Nothing listening at the account's address: a store error saying it could not be
    reached, not a stack trace."""
    settings.AZURE_BLOB_ENDPOINT = f"http://127.0.0.1:{free_port()}"
    store = azure_blob_store(
        account_url=f"{settings.AZURE_BLOB_ENDPOINT}/{ACCOUNT}",
        container="exports",
        account_key=ACCOUNT_KEY,
        retry_total=0,
    )
    with pytest.raises(ExportStoreError, match="could not be reached"):
        list(store.list(""))


@pytest.mark.parametrize(
    "ways",
    [
        {},
        {"account_key": ACCOUNT_KEY, "sas_url": "http://127.0.0.1:1/devstoreaccount1/c?sig=x"},
        {"account_key": ACCOUNT_KEY, "client_secret": "s3cret"},
    ],
)
def test_exactly_one_way_in(ways):
    """No credentials, or two kinds at once, is refused before any request."""
    with pytest.raises(ExportStoreError, match="exactly one of") as caught:
        azure_blob_store(account_url="http://127.0.0.1:1/devstoreaccount1", container="c", **ways)
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    "where",
    [
        {"account_url": "http://169.254.169.254/metadata", "account_key": ACCOUNT_KEY},
        {"account_url": "https://acct.blob.core.windows.net.evil.example", "client_secret": "s"},
        {"account_url": "http://acct.blob.core.windows.net", "account_key": ACCOUNT_KEY},
        {"account_url": "", "sas_url": "https://evil.example/acct/exports?sp=rl&sig=s3cret"},
    ],
)
def test_credentials_go_to_azure_storage_accounts_only(azure_blob_endpoint, where):
    """An account URL (or a SAS URL's) on any host but an Azure Storage account's blob endpoint
    (or the local server AZURE_BLOB_ENDPOINT names) is refused before any request, naming it
    without its query."""
    where.setdefault("tenant_id", "t" if "client_secret" in where else None)
    where.setdefault("client_id", "c" if "client_secret" in where else None)
    with pytest.raises(ExportStoreError, match="is not an Azure Blob Storage account URL") as e:
        azure_blob_store(container="exports", **where)
    assert "s3cret" not in str(e.value)


def test_a_malformed_tenant_id_is_refused_by_name():
    """A tenant id Entra ID could not have is refused before any request, saying which field."""
    with pytest.raises(ExportStoreError, match="the Azure tenant id is not valid"):
        azure_blob_store(
            account_url="https://acct.blob.core.windows.net",
            container="c",
            tenant_id="not a tenant!",
            client_id="c",
            client_secret="s3cret",
        )


def test_a_partial_service_principal_is_refused():
    """A service principal without its secret is refused, naming what is missing."""
    with pytest.raises(ExportStoreError, match="tenant id, client id and client secret"):
        azure_blob_store(
            account_url="https://acct.blob.core.windows.net",
            container="c",
            tenant_id="t",
            client_id="c",
        )


# -- A service principal --------------------------------------------------------------------
# Azurite accepts Microsoft Entra ID bearer tokens over HTTPS (`--oauth basic`); Entra ID itself
# has no runnable local server, so its token endpoint is stood in for at the HTTP level.

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "66666666-7777-8888-9999-000000000000"
SECRET = "sp-Secret~value.1234567890"


def _tls_files(folder):
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Entra(BaseHTTPRequestHandler):
    """Microsoft Entra ID's OpenID configuration and token endpoint, for one tenant: a token
    (shaped as Entra ID's, unsigned: Azurite checks issuer, audience and lifetime) for the
    right client secret, ``invalid_client`` for any other."""

    requests: list[str] = []

    def do_GET(self):
        base = f"https://127.0.0.1:{self.server.server_address[1]}/{TENANT}"
        self._json(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "issuer": f"{base}/v2.0",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            },
        )

    def do_POST(self):
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        self.requests.append(form.get("scope", [""])[0])
        if form.get("client_id") != [CLIENT] or form.get("client_secret") != [SECRET]:
            self._json(
                401,
                {
                    "error": "invalid_client",
                    "error_description": f"AADSTS7000215: Invalid client secret provided. "
                    f"Secret: {form.get('client_secret')}",
                },
            )
            return
        now = int(time.time())
        claims = {
            "aud": "https://storage.azure.com",
            "iss": f"https://sts.windows.net/{TENANT}/",
            "iat": now,
            "nbf": now - 60,
            "exp": now + 3600,
            "appid": CLIENT,
            "oid": CLIENT,
            "tid": TENANT,
        }

        def part(value):
            return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

        token = f"{part({'typ': 'JWT', 'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"
        self._json(200, {"token_type": "Bearer", "expires_in": 3600, "access_token": token})

    def _json(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def entra_azurite(tmp_path_factory, azure_blob_endpoint):
    """Azurite over HTTPS accepting bearer tokens, and a stand-in Entra ID authority, both
    trusting one self-signed certificate: (account URL, authority URL, certificate file)."""
    folder = tmp_path_factory.mktemp("entra")
    cert, key = _tls_files(folder)
    port = free_port()
    process = azurite_start(
        port=port, location=folder / "data", log_path=folder / "azurite.log", tls=(cert, key)
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Entra)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        azurite_wait(f"https://127.0.0.1:{port}", process=process, cafile=cert)
        yield (
            azurite_account_url(port).replace("http://", "https://"),
            f"https://127.0.0.1:{server.server_address[1]}",
            cert,
        )
    finally:
        server.shutdown()
        server.server_close()
        process.terminate()
        process.wait(timeout=15)


def test_a_service_principal_reads_with_an_entra_token(entra_azurite, settings):
    """A service principal (tenant, client id, secret) gets a token for Azure Storage from
    Entra ID and lists and reads the container with it."""
    account_url, authority, cert = entra_azurite
    settings.AZURE_BLOB_ENDPOINT = account_url.rsplit("/", 1)[0]
    service = BlobServiceClient(
        account_url,
        credential={"account_name": ACCOUNT, "account_key": ACCOUNT_KEY},
        connection_verify=str(cert),
    )
    name = f"exports-{uuid.uuid4().hex[:12]}"
    service.create_container(name).upload_blob("exp/manifest.json", b"{}")
    _Entra.requests = []

    store = azure_blob_store(
        account_url=account_url,
        container=name,
        tenant_id=TENANT,
        client_id=CLIENT,
        client_secret=SECRET,
        authority=authority,
        connection_verify=str(cert),
    )

    assert [o.key for o in store.list("exp/")] == ["exp/manifest.json"]
    assert store.read("exp/manifest.json") == b"{}"
    assert _Entra.requests == ["https://storage.azure.com/.default"]


def test_a_wrong_client_secret_is_access_denied_without_the_secret(entra_azurite, settings):
    """Entra ID refuses the secret: access denied naming the container, with nothing of the
    secret (nor of Entra ID's answer, which may quote it) in the message."""
    account_url, authority, cert = entra_azurite
    settings.AZURE_BLOB_ENDPOINT = account_url.rsplit("/", 1)[0]
    wrong = "wrong-Secret~0987654321"
    store = azure_blob_store(
        account_url=account_url,
        container="exports",
        tenant_id=TENANT,
        client_id=CLIENT,
        client_secret=wrong,
        authority=authority,
        connection_verify=str(cert),
        retry_total=0,
    )

    with pytest.raises(ExportAccessDenied, match=f"azure://{ACCOUNT}/exports") as caught:
        list(store.list("exp/"))
    message = str(caught.value)
    assert wrong not in message and "AADSTS" not in message
    assert "credentials were not accepted" in message


def test_an_empty_blob_reads_as_no_bytes(azure_blob_endpoint, container):
    """An empty part (Azure answers a range over it with 416) heads, reads and streams as b""."""
    container.upload_blob("exp/empty.csv", b"")
    store = _store(azure_blob_endpoint, container)

    assert store.read_head("exp/empty.csv") == b""
    assert store.read("exp/empty.csv") == b""
    assert store.open("exp/empty.csv").read() == b""
