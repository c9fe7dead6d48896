"""The S3 adapter against a real moto server: listing, bounded reads, streams, ranged heads,
assumed roles and access keys, and each refusal named without a secret."""

import gzip
import hashlib
import json
import os
import urllib.request
import uuid
from datetime import UTC

import boto3
import pytest
from botocore.exceptions import ClientError, IncompleteReadError
from django.conf import settings

from devtools.emulator import free_port
from devtools.object_stores import (
    s3_server_iam,
    s3_server_start,
    s3_server_stop,
    s3_server_wait,
)
from warehouse.exports import ExportAccessDenied, ExportNotFound, ExportStoreError
from warehouse.s3 import S3Store, oci_endpoint, oci_store, s3_store

ACCOUNT = "123456789012"


def _admin(endpoint: str, service: str, **keys):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=keys.get("key_id", "admin"),
        aws_secret_access_key=keys.get("secret", "admin-secret"),
    )


@pytest.fixture
def bucket(s3_endpoint):
    name = f"export-{uuid.uuid4().hex[:12]}"
    _admin(s3_endpoint, "s3").create_bucket(Bucket=name)
    return name


def _put(endpoint: str, bucket: str, key: str, body: bytes) -> None:
    _admin(endpoint, "s3").put_object(Bucket=bucket, Key=key, Body=body)


def test_list_pages_in_key_order(s3_endpoint, bucket):
    """Every object under the prefix comes back, across pages, in key order, with its size and
    unquoted MD5 ETag; objects beside the prefix do not."""
    bodies = {f"cur/report/part-{i:02d}.csv.gz": os.urandom(10 + i) for i in range(7)}
    for key, body in reversed(list(bodies.items())):
        _put(s3_endpoint, bucket, key, body)
    _put(s3_endpoint, bucket, "curious/other.csv", b"x")

    listed = list(s3_store(bucket=bucket, page_size=3).list("cur/"))

    assert [item.key for item in listed] == sorted(bodies)
    for item in listed:
        assert item.size == len(bodies[item.key])
        assert item.etag == hashlib.md5(bodies[item.key]).hexdigest()  # noqa: S324
        assert item.last_modified.tzinfo is UTC


def test_list_pages_counted(s3_endpoint, bucket):
    """A page size of 2 over 5 objects takes three ListObjectsV2 calls."""
    for i in range(5):
        _put(s3_endpoint, bucket, f"p/{i}", b"x")
    store = s3_store(bucket=bucket, page_size=2)
    calls = []
    store._client.meta.events.register(
        "before-call.s3.ListObjectsV2", lambda **kwargs: calls.append(kwargs["params"])
    )

    assert len(list(store.list("p/"))) == 5
    assert len(calls) == 3


def test_read_is_bounded(s3_endpoint, bucket):
    """A manifest reads whole up to max_bytes; one byte more is refused, naming the object."""
    manifest = json.dumps({"assemblyId": "a1", "reportKeys": []}).encode()
    _put(s3_endpoint, bucket, "m/report-Manifest.json", manifest)
    store = s3_store(bucket=bucket)

    assert store.read("m/report-Manifest.json") == manifest
    assert store.read("m/report-Manifest.json", max_bytes=len(manifest)) == manifest
    with pytest.raises(ExportStoreError, match=rf"s3://{bucket}/m/report-Manifest.json is larger"):
        store.read("m/report-Manifest.json", max_bytes=len(manifest) - 1)


def test_empty_object_reads_empty(s3_endpoint, bucket):
    _put(s3_endpoint, bucket, "empty.csv", b"")
    store = s3_store(bucket=bucket)

    assert store.read("empty.csv") == b""
    assert store.read_head("empty.csv") == b""


def test_open_streams_in_chunks(s3_endpoint, bucket):
    """A gzip part decompresses straight from the stream, chunk by chunk."""
    lines = [f"{i},{i * 0.01:.2f}\n".encode() for i in range(200_000)]
    body = gzip.compress(b"id,cost\n" + b"".join(lines), compresslevel=1)
    _put(s3_endpoint, bucket, "parts/big.csv.gz", body)
    store = s3_store(bucket=bucket)

    with store.open("parts/big.csv.gz") as stream:
        assert len(stream.read(1000)) == 1000  # a chunk, not the whole object
    with store.open("parts/big.csv.gz") as stream, gzip.GzipFile(fileobj=stream) as text:
        assert text.readline() == b"id,cost\n"
        count = sum(1 for _ in text)
    assert count == 200_000


def test_read_head_is_a_ranged_get(s3_endpoint, bucket):
    """The first bytes come from one GET with a Range header; the rest is never sent."""
    body = os.urandom(3 * 1024 * 1024)
    _put(s3_endpoint, bucket, "parts/p.csv.gz", body)
    store = s3_store(bucket=bucket)
    ranges = []
    store._client.meta.events.register(
        "before-call.s3.GetObject",
        lambda **kwargs: ranges.append(kwargs["params"]["headers"].get("Range")),
    )

    assert store.read_head("parts/p.csv.gz", size=4096) == body[:4096]
    assert ranges == ["bytes=0-4095"]


def test_missing_bucket_and_key(s3_endpoint, bucket):
    """No such bucket and no such key are ExportNotFound naming the bucket, and the key."""
    with pytest.raises(ExportNotFound, match=r"^s3://no-such-bucket-here: no such bucket$"):
        list(s3_store(bucket="no-such-bucket-here").list("cur/"))
    with pytest.raises(ExportNotFound, match=rf"^s3://{bucket}/cur/missing.json: no such object$"):
        s3_store(bucket=bucket).read("cur/missing.json")
    with pytest.raises(ExportNotFound, match="no such object"):
        s3_store(bucket=bucket).open("cur/missing.csv.gz")
    with pytest.raises(ExportNotFound, match="no such object"):
        s3_store(bucket=bucket).read_head("cur/missing.csv.gz")


def test_assume_role_with_external_id(s3_endpoint, bucket):
    """With a role ARN, the platform assumes it through STS with the external id, and reads as
    the role's session."""
    _put(s3_endpoint, bucket, "cur/a.csv", b"a,b\n")
    role_arn = f"arn:aws:iam::210987654321:role/convergence-{uuid.uuid4().hex[:6]}"

    store = s3_store(bucket=bucket, role_arn=role_arn, external_id="tenant-ext-42")

    assert [item.key for item in store.list("cur/")] == ["cur/a.csv"]
    credentials = store._client._request_signer._credentials
    assert credentials.access_key.startswith("ASIA")  # an STS session, not the platform's key
    with pytest.raises(ExportNotFound):  # the session reaches the store
        store.read("cur/missing")
    sessions = _moto_data(s3_endpoint)["sts"]["AssumedRole"]
    session = next(s for s in sessions if s["role_arn"] == role_arn)
    assert session["external_id"] == "tenant-ext-42"
    assert session["session_name"] == "convergence-export-sync"


def test_access_keys(s3_endpoint, bucket):
    """Access keys sign requests as the tenant's own."""
    _put(s3_endpoint, bucket, "cur/a.csv", b"a,b\n")
    store = s3_store(bucket=bucket, access_key_id="AKIATENANT00000001", secret_access_key="s")

    assert store.read("cur/a.csv") == b"a,b\n"
    assert store._client._request_signer._credentials.access_key == "AKIATENANT00000001"


def test_half_a_key_is_refused(s3_endpoint):
    with pytest.raises(ExportAccessDenied, match="needs both"):
        s3_store(bucket="some-bucket", access_key_id="AKIA0000000000000000")


def test_a_role_needs_its_external_id(s3_endpoint):
    """The platform never assumes a tenant's role without the tenant's external id (the
    confused-deputy guard AWS recommends for third parties)."""
    with pytest.raises(ExportStoreError, match="needs its external id"):
        s3_store(bucket="some-bucket", role_arn=f"arn:aws:iam::{ACCOUNT}:role/r")


def test_not_a_role_arn(s3_endpoint):
    with pytest.raises(ExportStoreError, match="is not an IAM role ARN"):
        s3_store(bucket="some-bucket", role_arn="arn:aws:iam::12:user/x")


def test_oci_store_reads_through_s3_compat(s3_endpoint, bucket):
    """OCI Object Storage is read through its S3 compatibility API with a customer secret key;
    messages name it as oci://namespace/bucket."""
    _put(s3_endpoint, bucket, "reports/cost-csv/0001.csv.gz", b"x")
    store = oci_store(
        bucket=bucket,
        namespace="bling",
        region="us-ashburn-1",
        access_key_id="ocid-key",
        secret_access_key="oci-secret",
    )

    assert [item.key for item in store.list("reports/")] == ["reports/cost-csv/0001.csv.gz"]
    assert store.location == f"oci://bling/{bucket}"
    with pytest.raises(ExportNotFound, match=rf"^oci://bling/{bucket}/reports/x: no such object$"):
        store.read("reports/x")


def test_oci_endpoint_is_the_tenancy_compat_endpoint(settings):
    settings.OCI_S3_ENDPOINT_URL = ""

    assert (
        oci_endpoint(namespace="axyz12abc", region="eu-frankfurt-1")
        == "https://axyz12abc.compat.objectstorage.eu-frankfurt-1.oraclecloud.com"
    )
    with pytest.raises(ExportStoreError, match="not an OCI region"):
        oci_endpoint(namespace="bling", region="eu-frankfurt")
    with pytest.raises(ExportStoreError, match="not an Object Storage namespace"):
        oci_endpoint(namespace="bling.evil.com/", region="eu-frankfurt-1")


def test_unreachable_store(settings):
    """A store that does not answer is named, without its address."""
    settings.S3_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    store = s3_store(bucket="some-bucket")
    store._client.meta.config.retries = {"max_attempts": 0}

    with pytest.raises(ExportStoreError, match=r"^s3://some-bucket/cur/: the store could not be"):
        list(store.list("cur/"))


@pytest.mark.parametrize(
    ("code", "status", "headers", "kind", "message"),
    [
        (
            "PermanentRedirect",
            301,
            {"x-amz-bucket-region": "eu-west-1"},
            ExportStoreError,
            "s3://cur-bucket: wrong region (the bucket is in eu-west-1); set the provider "
            "config's region",
        ),
        (
            "AuthorizationHeaderMalformed",
            400,
            {},
            ExportStoreError,
            "s3://cur-bucket: wrong region; set the provider config's region",
        ),
        (
            "ExpiredToken",
            400,
            {},
            ExportAccessDenied,
            "s3://cur-bucket/k.json: the credentials were refused (the session has expired)",
        ),
        (
            "Weird<script>",
            400,
            {},
            ExportStoreError,
            "s3://cur-bucket/k.json: the store refused the request (unknown error)",
        ),
    ],
)
def test_errors_aws_gives_that_moto_does_not(code, status, headers, kind, message):
    """Refusals moto's server never sends (a bucket in another region, an expired session) are
    translated from AWS's documented codes; the store's own text is never repeated."""
    store = S3Store(bucket="cur-bucket", client=None)
    error = ClientError(
        {
            "Error": {"Code": code, "Message": "Credential=AKIASECRET0000000/2026 sig abc"},
            "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers},
        },
        "GetObject",
    )
    key = None if "wrong region" in message else "k.json"

    translated = store._error(error, key=key)

    assert type(translated) is kind
    assert str(translated) == message
    assert "AKIASECRET" not in str(translated)


# IAM enforced: moto's server checks signatures, the identity policies of users and assumed
# roles, and a role's trust policy with its sts:ExternalId condition (not bucket policies).


@pytest.fixture(scope="module")
def iam_server(tmp_path_factory):
    """A moto server of its own with IAM enforced once the users, roles and buckets exist."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    directory = tmp_path_factory.mktemp("s3-iam")
    process = s3_server_start(port=port, log_path=directory / "s3.log")
    try:
        s3_server_wait(endpoint, process=process)
        world = _iam_world(endpoint)
        s3_server_iam(endpoint, enforce=True)
        yield endpoint, world
    finally:
        s3_server_stop(process)


def _iam_world(endpoint: str) -> dict:
    iam = _admin(endpoint, "iam")
    s3 = _admin(endpoint, "s3")
    for name in ("tenant-cur", "other-tenant-cur"):
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="cur/a.csv", Body=b"a,b\n")
    s3.put_object(Bucket="tenant-cur", Key="private/payroll.csv", Body=b"x")
    read_tenant_bucket = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:ListBucket", "s3:GetObject"],
                    "Resource": ["arn:aws:s3:::tenant-cur", "arn:aws:s3:::tenant-cur/*"],
                },
                {
                    "Effect": "Deny",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::tenant-cur/private/*",
                },
            ],
        }
    )
    keys = {}
    for user, policy in (
        ("tenant-reader", read_tenant_bucket),
        (
            "platform",
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
                }
            ),
        ),
        ("nobody", None),
    ):
        iam.create_user(UserName=user)
        if policy:
            iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=policy)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])
    # The tenant's role trusts the platform's identity, with the tenant's external id.
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/platform"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "ext-7"}},
            }
        ],
    }
    role = iam.create_role(RoleName="convergence-read", AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]
    iam.put_role_policy(
        RoleName="convergence-read", PolicyName="read", PolicyDocument=read_tenant_bucket
    )
    return {"role_arn": role["Arn"], "keys": keys}


@pytest.fixture
def on_iam_server(iam_server, settings):
    endpoint, world = iam_server
    settings.S3_ENDPOINT_URL = endpoint
    settings.STS_ENDPOINT_URL = endpoint
    return world


def test_iam_access_keys_read_only_what_the_policy_allows(on_iam_server):
    """A tenant's keys read its bucket; another bucket is access denied, named."""
    key_id, secret = on_iam_server["keys"]["tenant-reader"]

    store = s3_store(bucket="tenant-cur", access_key_id=key_id, secret_access_key=secret)
    assert store.read("cur/a.csv") == b"a,b\n"
    assert [item.key for item in store.list("cur/")] == ["cur/a.csv"]

    other = s3_store(bucket="other-tenant-cur", access_key_id=key_id, secret_access_key=secret)
    with pytest.raises(ExportAccessDenied, match=r"^s3://other-tenant-cur/cur/: access denied$"):
        list(other.list("cur/"))
    with pytest.raises(
        ExportAccessDenied, match=r"^s3://other-tenant-cur/cur/a.csv: access denied$"
    ):
        other.read("cur/a.csv")


def test_iam_explicit_deny_on_a_prefix(on_iam_server):
    """An explicit Deny on part of the bucket is access denied on that object, named."""
    key_id, secret = on_iam_server["keys"]["tenant-reader"]
    store = s3_store(bucket="tenant-cur", access_key_id=key_id, secret_access_key=secret)

    with pytest.raises(
        ExportAccessDenied, match=r"^s3://tenant-cur/private/payroll.csv: access denied$"
    ):
        store.read_head("private/payroll.csv")
    assert store.read("cur/a.csv") == b"a,b\n"


def test_iam_wrong_credentials(on_iam_server):
    """An unknown key id and a wrong secret are refused in words; neither secret is shown."""
    key_id, _secret = on_iam_server["keys"]["tenant-reader"]

    wrong_secret = s3_store(
        bucket="tenant-cur", access_key_id=key_id, secret_access_key="not-the-secret-xyz"
    )
    with pytest.raises(ExportAccessDenied) as caught:
        wrong_secret.read("cur/a.csv")
    assert str(caught.value) == (
        "s3://tenant-cur/cur/a.csv: the credentials were refused "
        "(the secret does not match the access key id)"
    )

    unknown = s3_store(
        bucket="tenant-cur", access_key_id="AKIAUNKNOWN000000000", secret_access_key="x-secret"
    )
    with pytest.raises(ExportAccessDenied) as caught:
        list(unknown.list("cur/"))
    assert "unknown access key id" in str(caught.value)
    assert "x-secret" not in str(caught.value)


def test_iam_assumed_role_reads_as_the_role(on_iam_server, settings):
    """The platform (allowed sts:AssumeRole) assumes the tenant's role, whose policy lets it
    read the tenant's bucket and no other."""
    settings.AWS_PLATFORM_ACCESS_KEY_ID, settings.AWS_PLATFORM_SECRET_ACCESS_KEY = on_iam_server[
        "keys"
    ]["platform"]
    role_arn = on_iam_server["role_arn"]

    store = s3_store(bucket="tenant-cur", role_arn=role_arn, external_id="ext-7")
    assert store.read("cur/a.csv") == b"a,b\n"

    other = s3_store(bucket="other-tenant-cur", role_arn=role_arn, external_id="ext-7")
    with pytest.raises(ExportAccessDenied, match=r"^s3://other-tenant-cur/cur/a.csv: access"):
        other.read("cur/a.csv")


def test_iam_wrong_external_id(on_iam_server, settings):
    """The role trusts the platform only with the tenant's external id: another one is access
    denied, and the message does not show it. (moto lets a request with no external id past
    the condition, which AWS does not: the adapter never sends one without it.)"""
    settings.AWS_PLATFORM_ACCESS_KEY_ID, settings.AWS_PLATFORM_SECRET_ACCESS_KEY = on_iam_server[
        "keys"
    ]["platform"]
    role_arn = on_iam_server["role_arn"]

    with pytest.raises(ExportAccessDenied) as caught:
        s3_store(bucket="tenant-cur", role_arn=role_arn, external_id="ext-8")
    assert str(caught.value).startswith(f"could not assume role {role_arn}: access denied")
    assert "ext-8" not in str(caught.value)


def test_iam_platform_may_not_assume_the_role(on_iam_server, settings):
    """A platform identity without sts:AssumeRole cannot assume the role: the message names
    the role and what to check, and no key."""
    key_id, secret = on_iam_server["keys"]["nobody"]
    settings.AWS_PLATFORM_ACCESS_KEY_ID, settings.AWS_PLATFORM_SECRET_ACCESS_KEY = key_id, secret
    role_arn = on_iam_server["role_arn"]

    with pytest.raises(ExportAccessDenied) as caught:
        s3_store(bucket="tenant-cur", role_arn=role_arn, external_id="ext-7")
    message = str(caught.value)
    assert message.startswith(f"could not assume role {role_arn}: access denied")
    assert key_id not in message
    assert "ext-7" not in message


def _moto_data(endpoint: str) -> dict:
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=5) as response:
        return json.load(response)


def test_fixture_points_settings_at_the_server(s3_endpoint):
    assert s3_endpoint == settings.S3_ENDPOINT_URL
    assert s3_endpoint == settings.STS_ENDPOINT_URL
    assert s3_endpoint == settings.OCI_S3_ENDPOINT_URL


def test_a_transfer_broken_off_is_named(s3_endpoint, bucket):
    """A stream whose connection breaks mid-part raises ExportStoreError naming the object
    (moto cannot break a transfer on demand: the body is a botocore stream that fails)."""

    class Broken:
        def read(self, size):
            raise IncompleteReadError(actual_bytes=10, expected_bytes=100)

        def close(self):
            pass

    _put(s3_endpoint, bucket, "parts/a.csv.gz", b"x" * 100)
    store = s3_store(bucket=bucket)
    store._client.meta.events.register(
        "after-call.s3.GetObject", lambda parsed, **kwargs: parsed.update(Body=Broken())
    )

    with store.open("parts/a.csv.gz") as stream, pytest.raises(ExportStoreError) as caught:
        stream.read()
    assert str(caught.value) == f"s3://{bucket}/parts/a.csv.gz: the transfer broke off"
