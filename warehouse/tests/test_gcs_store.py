"""The Cloud Storage export store, against a real gcp-storage-emulator (the ``gcs_endpoint``
session fixture): paged listing, bounded reads, ranged heads, streamed parts, a tenant's service
account. Google's token endpoint has no runnable local server, so it is stood in for at the
HTTP level (the emulator itself checks no credentials)."""

import base64
import json
import os
import threading
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.oauth2.credentials import Credentials as OAuthCredentials

from warehouse.exports import ExportAccessDenied, ExportNotFound, ExportStoreError
from warehouse.storage import CHUNK_BYTES, _client, gcs_store


@pytest.fixture
def bucket(gcs_endpoint):
    """A fresh bucket on the emulator."""
    name = f"exports-{uuid.uuid4().hex[:12]}"
    yield _client(endpoint=gcs_endpoint).create_bucket(name)


def _requests(store):
    """Every request the store's HTTP session sends, as (method, url, Range header)."""
    seen = []
    session = store._client._http

    def hook(response, *args, **kwargs):
        seen.append(
            (response.request.method, response.request.url, response.request.headers.get("Range"))
        )

    session.hooks["response"].append(hook)
    return seen


def test_list_walks_every_page_in_key_order(gcs_endpoint, bucket):
    """Five objects under the prefix listed two a page come back all five, in name order, with
    their size and MD5; objects outside the prefix are not listed."""
    names = [f"exp/2024/part_{i}.csv" for i in (3, 0, 4, 1, 2)]
    for i, name in enumerate(names):
        bucket.blob(name).upload_from_string(b"x" * (i + 1))
    bucket.blob("other/part.csv").upload_from_string(b"y")
    store = gcs_store(bucket=bucket.name, endpoint=gcs_endpoint, page_size=2)
    sent = _requests(store)

    objects = list(store.list("exp/"))

    assert [o.key for o in objects] == sorted(names)
    sizes = {name: i + 1 for i, name in enumerate(names)}
    assert [o.size for o in objects] == [sizes[o.key] for o in objects]
    assert all(o.etag for o in objects) and len({o.etag for o in objects}) == 5
    listings = [url for method, url, _ in sent if "/o?" in url]
    assert len(listings) == 3
    assert sum("pageToken=" in url for url in listings) == 2
    assert store.location == f"gs://{bucket.name}"


def test_the_emulator_pages_as_gcs_does(gcs_endpoint, bucket):
    """The emulator's listing, as mended in devtools.gcs_emulator, honours maxResults and
    pageToken (what the paging test above relies on)."""
    for i in range(3):
        bucket.blob(f"p/{i}").upload_from_string(b"x")
    url = f"{gcs_endpoint}/storage/v1/b/{bucket.name}/o?maxResults=2"
    first = json.load(urllib.request.urlopen(url))
    assert [i["name"] for i in first["items"]] == ["p/0", "p/1"]
    second = json.load(urllib.request.urlopen(f"{url}&pageToken={first['nextPageToken']}"))
    assert [i["name"] for i in second["items"]] == ["p/2"]
    assert "nextPageToken" not in second


def test_read_returns_a_manifest_and_refuses_a_bigger_object(gcs_endpoint, bucket):
    """A manifest is read whole; an object past max_bytes is refused by name after one bounded
    download."""
    bucket.blob("exp/manifest.json").upload_from_string(b'{"reportKeys": []}')
    bucket.blob("exp/part_0.csv").upload_from_string(b"a" * 5000)
    store = gcs_store(bucket=bucket.name, endpoint=gcs_endpoint)
    sent = _requests(store)

    assert store.read("exp/manifest.json") == b'{"reportKeys": []}'
    with pytest.raises(ExportStoreError, match=r"exp/part_0\.csv: more than the 100 bytes"):
        store.read("exp/part_0.csv", max_bytes=100)
    assert sent[-1][2] == "bytes=0-100"


def test_head_reads_only_the_first_bytes(gcs_endpoint, bucket):
    """head() asks for one range and returns exactly its bytes; a short object comes whole."""
    bucket.blob("exp/part.csv").upload_from_string(b"BillingAccountId,Cost\n" + b"a,1\n" * 1000)
    bucket.blob("exp/short.csv").upload_from_string(b"a,b\n")
    store = gcs_store(bucket=bucket.name, endpoint=gcs_endpoint)
    sent = _requests(store)

    assert store.read_head("exp/part.csv", size=22) == b"BillingAccountId,Cost\n"
    assert store.read_head("exp/short.csv", size=1024) == b"a,b\n"
    assert sent[0][2] == "bytes=0-21"


def test_open_streams_an_object_range_by_range(gcs_endpoint, bucket):
    """An object bigger than two ranges is read back byte for byte in ranges of CHUNK_BYTES
    (the client's range ends are inclusive: one byte more)."""
    data = os.urandom(2 * CHUNK_BYTES + 999)
    bucket.blob("exp/part_0.csv.gz").upload_from_string(data)
    store = gcs_store(bucket=bucket.name, endpoint=gcs_endpoint)
    sent = _requests(store)

    with store.open("exp/part_0.csv.gz") as stream:
        chunks = []
        while chunk := stream.read(1 << 20):
            chunks.append(chunk)

    assert b"".join(chunks) == data
    ranges = [r for _, url, r in sent if "/download/" in url or "alt=media" in url]
    assert len(ranges) >= 3
    spans = [tuple(int(n) for n in r.removeprefix("bytes=").split("-")) for r in ranges]
    assert all(end - start <= CHUNK_BYTES for start, end in spans)


def test_an_object_rewritten_while_read_fails_by_name(gcs_endpoint, bucket):
    """A part rewritten while it is read fails the read, naming it."""
    blob = bucket.blob("exp/part_0.csv")
    blob.upload_from_string(os.urandom(2 * CHUNK_BYTES))
    store = gcs_store(bucket=bucket.name, endpoint=gcs_endpoint)

    stream = store.open("exp/part_0.csv")
    stream.read(1024)
    blob.upload_from_string(os.urandom(2 * CHUNK_BYTES))
    with pytest.raises(ExportStoreError, match=r"exp/part_0\.csv: the object changed while"):
        while stream.read(1 << 20):
            pass


def test_an_unknown_bucket_and_object_are_not_found(gcs_endpoint, bucket):
    """No such bucket, no such object: ExportNotFound naming it."""
    with pytest.raises(ExportNotFound, match="gs://no-such-bucket: no such bucket"):
        list(gcs_store(bucket="no-such-bucket", endpoint=gcs_endpoint).list(""))
    store = gcs_store(bucket=bucket.name, endpoint=gcs_endpoint)
    with pytest.raises(ExportNotFound, match=rf"gs://{bucket.name}/exp/x\.csv: no such object"):
        store.open("exp/x.csv")
    with pytest.raises(ExportNotFound, match=r"exp/manifest\.json: no such object"):
        store.read("exp/manifest.json")


class _TokenEndpoint(BaseHTTPRequestHandler):
    """Google's OAuth token endpoint: grants a token, or refuses the key as Google does."""

    grant = True
    assertions: list[str] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.assertions.append(body)
        if self.grant:
            payload, status = {"access_token": "ya29.local", "expires_in": 3600}, 200
        else:
            payload = {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            status = 400
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def token_endpoint():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TokenEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _TokenEndpoint.assertions = []
    _TokenEndpoint.grant = True
    yield f"http://127.0.0.1:{server.server_address[1]}/token", _TokenEndpoint
    server.shutdown()
    server.server_close()


def _service_account(token_uri):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": "tenant-project",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "reader@tenant-project.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }


def test_a_tenant_service_account_reads_with_a_read_only_token(
    gcs_endpoint, bucket, token_endpoint
):
    """The tenant's service-account key gets a token scoped read-only, and the store reads the
    bucket with it."""
    url, endpoint = token_endpoint
    bucket.blob("exp/manifest.json").upload_from_string(b"{}")
    store = gcs_store(
        bucket=bucket.name, credentials_info=_service_account(url), endpoint=gcs_endpoint
    )
    sent = []
    store._client._http.hooks["response"].append(
        lambda response, *a, **k: sent.append(response.request.headers.get("Authorization"))
    )

    assert [o.key for o in store.list("exp/")] == ["exp/manifest.json"]
    assert sent == ["Bearer ya29.local"]
    claims = endpoint.assertions[-1].split("assertion=")[1].split("&")[0].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert claims["scope"] == "https://www.googleapis.com/auth/devstorage.read_only"
    assert claims["iss"] == "reader@tenant-project.iam.gserviceaccount.com"


def test_a_refused_service_account_is_access_denied_without_the_key(
    gcs_endpoint, bucket, token_endpoint
):
    """A key Google refuses: access denied naming the bucket, with nothing of the key or of
    Google's answer in the message."""
    url, endpoint = token_endpoint
    endpoint.grant = False
    info = _service_account(url)
    store = gcs_store(bucket=bucket.name, credentials_info=info, endpoint=gcs_endpoint)

    with pytest.raises(ExportAccessDenied, match=f"gs://{bucket.name}") as caught:
        list(store.list("exp/"))
    message = str(caught.value)
    assert "credentials were not accepted" in message
    assert "PRIVATE KEY" not in message and "Invalid JWT" not in message


def test_a_malformed_key_is_refused_before_any_request(gcs_endpoint):
    """A service-account JSON that is not one is refused by bucket, its content not shown."""
    with pytest.raises(
        ExportStoreError, match="gs://b: the service account key is not a valid JSON key"
    ):
        gcs_store(bucket="b", credentials_info={"private_key": "s3cret"}, endpoint=gcs_endpoint)


def test_credentials_made_for_the_tenant_are_used_as_given(gcs_endpoint, bucket):
    """Credentials already made for the tenant (the platform-managed identity it granted its
    bucket) are sent as they are; a key and credentials together are refused."""
    bucket.blob("exp/manifest.json").upload_from_string(b"{}")
    given = OAuthCredentials(token="ya29.managed")
    store = gcs_store(bucket=bucket.name, credentials=given, endpoint=gcs_endpoint)
    sent = []
    store._client._http.hooks["response"].append(
        lambda response, *a, **k: sent.append(response.request.headers.get("Authorization"))
    )

    assert [o.key for o in store.list("exp/")] == ["exp/manifest.json"]
    assert sent == ["Bearer ya29.managed"]
    with pytest.raises(ExportStoreError, match="not both"):
        gcs_store(bucket="b", credentials=given, credentials_info={}, endpoint=gcs_endpoint)


def test_an_empty_object_reads_as_no_bytes(gcs_endpoint, bucket):
    """An empty part heads, reads and streams as b"" (a range over it is unsatisfiable)."""
    bucket.blob("exp/empty.csv").upload_from_string(b"")
    store = gcs_store(bucket=bucket.name, endpoint=gcs_endpoint)

    assert store.read_head("exp/empty.csv") == b""
    assert store.read("exp/empty.csv") == b""
    assert store.open("exp/empty.csv").read() == b""
