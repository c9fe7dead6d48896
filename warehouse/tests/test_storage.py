"""gs:// CSV loads get an explicit all-STRING schema from the object's header line.

Cloud Storage has no runnable local server, so it is stood in for at the HTTP level: a small
server answering the JSON API's media downloads (with ``Range``), as GCS does.
"""

import gzip
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from warehouse.files import FileSourceError, csv_header_columns
from warehouse.storage import StorageError, object_head

CUR_HEAD = b"identity/LineItemId,resourceTags/user:CostCenter,lineItem/UnblendedCost\n"
OBJECTS = {
    ("exports", "cur/2024-01.csv"): CUR_HEAD + b"a,42,0.5\nb,43,1.5\n",
    ("exports", "cur/2024-01.csv.gz"): gzip.compress(CUR_HEAD + b"a,42,0.5\n" * 5000),
}


class _Gcs(BaseHTTPRequestHandler):
    requests: list[tuple[str, str]] = []

    def do_GET(self):
        path = urllib.parse.urlparse(self.path).path
        match = re.fullmatch(r"/download/storage/v1/b/([^/]+)/o/(.+)", path)
        key = match and (match.group(1), urllib.parse.unquote(match.group(2)))
        self.requests.append((path, self.headers.get("Range", "")))
        if not key or key not in OBJECTS:
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": {"code": 404, "message": "No such object"}}')
            return
        data = OBJECTS[key]
        start, end = 0, len(data) - 1
        ranged = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if ranged:
            start = int(ranged.group(1))
            end = min(end, int(ranged.group(2) or end))
        body = data[start : end + 1]
        self.send_response(206 if ranged else 200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def gcs(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gcs)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.STORAGE_ENDPOINT = f"http://127.0.0.1:{server.server_address[1]}"
    _Gcs.requests = []
    yield _Gcs.requests
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("name", ["cur/2024-01.csv", "cur/2024-01.csv.gz"])
def test_gs_csv_header_gives_an_all_string_schema(gcs, name):
    """The header of a gs:// CSV (gzip too) names the columns, every one STRING: a tag column
    holding only numbers is not autodetected as INT64."""
    columns = csv_header_columns(f"gs://exports/{name}")
    assert [(c.name, c.type) for c in columns] == [
        ("identity_LineItemId", "STRING"),
        ("resourceTags_user_CostCenter", "STRING"),
        ("lineItem_UnblendedCost", "STRING"),
    ]
    # Only the head of the object is fetched, never the whole export.
    downloads = [r for path, r in gcs if path.startswith("/download/")]
    assert downloads and all(r.startswith("bytes=0-") for r in downloads)


def test_missing_gs_object_fails_the_step_by_name(gcs):
    """A missing object is a step failure naming the URI, not a crash."""
    with pytest.raises(StorageError, match="no such object"):
        object_head("gs://exports/nope.csv")
    with pytest.raises(FileSourceError, match=r"gs://exports/nope\.csv"):
        csv_header_columns("gs://exports/nope.csv")
