"""gs:// CSV loads get an explicit all-STRING schema from the object's header line, read from a
real Cloud Storage emulator (the ``gcs_endpoint`` session fixture)."""

import gzip
import uuid

import pytest

from warehouse.files import FileSourceError, csv_header_columns
from warehouse.storage import HEAD_BYTES, StorageError, _client, object_head

CUR_HEAD = b"identity/LineItemId,resourceTags/user:CostCenter,lineItem/UnblendedCost\n"


@pytest.fixture
def gcs(settings, gcs_endpoint):
    """A bucket holding a CUR file plain and gzipped, read through STORAGE_ENDPOINT."""
    settings.STORAGE_ENDPOINT = gcs_endpoint
    bucket = _client(endpoint=gcs_endpoint).create_bucket(f"exports-{uuid.uuid4().hex[:12]}")
    bucket.blob("cur/2024-01.csv").upload_from_string(CUR_HEAD + b"a,42,0.5\nb,43,1.5\n")
    bucket.blob("cur/2024-01.csv.gz").upload_from_string(
        gzip.compress(CUR_HEAD + b"a,42,0.5\n" * 5000)
    )
    bucket.blob("cur/big.csv").upload_from_string(CUR_HEAD + b"a,42,0.5\n" * 400_000)
    return bucket.name


@pytest.mark.parametrize("name", ["cur/2024-01.csv", "cur/2024-01.csv.gz"])
def test_gs_csv_header_gives_an_all_string_schema(gcs, name):
    """The header of a gs:// CSV (gzip too) names the columns, every one STRING: a tag column
    holding only numbers is not autodetected as INT64."""
    columns = csv_header_columns(f"gs://{gcs}/{name}")
    assert [(c.name, c.type) for c in columns] == [
        ("identity_LineItemId", "STRING"),
        ("resourceTags_user_CostCenter", "STRING"),
        ("lineItem_UnblendedCost", "STRING"),
    ]


def test_only_the_head_of_an_object_is_read(gcs):
    """Of a 3.6 MB export only the first HEAD_BYTES are downloaded (one ranged request)."""
    head = object_head(f"gs://{gcs}/cur/big.csv")
    assert len(head) == HEAD_BYTES
    assert head.startswith(CUR_HEAD)


def test_missing_gs_object_fails_the_step_by_name(gcs):
    """A missing object is a step failure naming the URI, not a crash."""
    with pytest.raises(StorageError, match="no such object"):
        object_head(f"gs://{gcs}/nope.csv")
    with pytest.raises(FileSourceError, match=rf"gs://{gcs}/nope\.csv"):
        csv_header_columns(f"gs://{gcs}/nope.csv")
