"""A charset that is no character set is a 400 JSON before Django builds the request."""

import io
import json
from wsgiref.util import setup_testing_defaults

import pytest
import requests

CHARSETS = ["rot13", "base64", "hex", "zlib", "utf-7", "punycode", "undefined", "nope"]
PATHS = ["/health?x=1", "/api/v1/tenants/acme_corp/runs?limit=1", "/admin/?q=1", "/nowhere?x"]


def _call(application, path: str, content_type: str) -> tuple[str, dict, bytes]:
    """One request straight through a WSGI application, as a WSGI server makes it."""
    environ = {"CONTENT_TYPE": content_type, "wsgi.input": io.BytesIO(b"")}
    environ["PATH_INFO"], _, environ["QUERY_STRING"] = path.partition("?")
    setup_testing_defaults(environ)
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer.update(status=status, headers=dict(headers))

    body = b"".join(application(environ, start_response))
    return answer["status"], answer["headers"], body


@pytest.mark.parametrize("charset", CHARSETS)
@pytest.mark.parametrize("path", PATHS)
def test_production_entry_point_refuses_the_charset_first(db, path, charset):
    """``convergence.wsgi.application`` answers 400 JSON naming the charset on every path,
    unauthenticated: Django used to raise LookupError building ``request.GET`` (a plain-text
    500 from the server, before any middleware)."""
    from convergence.wsgi import application

    status, headers, body = _call(application, path, f"text/plain; charset={charset}")
    assert status == "400 Bad Request"
    assert headers["Content-Type"] == "application/json"
    assert f"'{charset}'" in json.loads(body)["detail"]


@pytest.mark.parametrize("content_type", ["", "text/plain", "text/plain; charset=utf-8"])
def test_a_charset_that_decodes_passes_through(db, content_type):
    from convergence.wsgi import application

    status, _, body = _call(application, "/api/v1/no/such?x=1", content_type)
    assert status.startswith("404")
    assert json.loads(body)["detail"].startswith("Not found")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_live_server_answers_400_json_over_http(live_server):
    """The curl of the issue, over a real socket."""
    response = requests.get(
        f"{live_server.url}/health?x=1",
        headers={"Content-Type": "text/plain; charset=rot13"},
        timeout=30,
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": "Charset 'rot13' in Content-Type is not a text encoding; send UTF-8."
    }
