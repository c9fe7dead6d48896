"""Bytes no answer could carry are a 400 naming the problem, and nothing is stored (issue 27).

A non-text charset, a lone surrogate, a NUL or a number beyond a float in a JSON body: each
used to be a 500, and a stored surrogate made every later read of its row a 500 too.
"""

import pytest

from pipelines.models import PipelineRun
from scheduling.models import Schedule
from tenants.models import ProviderConfig
from tenants.tests.conftest import key_client

pytestmark = pytest.mark.django_db

SCHEDULE = '{"provider": "example", "domain": "demo", "pipeline": "hello", "cron": "0 * * * *", '


def _routes(tenant_id: str) -> dict[str, str]:
    return {
        "provider-configs": f"/api/v1/tenants/{tenant_id}/provider-configs",
        "schedules": f"/api/v1/scheduler/tenant/{tenant_id}/pipelines",
        "run": f"/api/v1/pipelines/run/{tenant_id}/example/demo/hello",
        "runs": f"/api/v1/tenants/{tenant_id}/runs",
    }


def _nothing_stored():
    assert not ProviderConfig.objects.exists()
    assert not Schedule.objects.exists()
    assert not PipelineRun.objects.exists()


def _reads_answer(client, routes: dict[str, str]) -> None:
    for name in ("provider-configs", "schedules", "runs"):
        response = client.get(routes[name])
        assert response.status_code == 200, (name, response.content)


@pytest.mark.parametrize("charset", ["rot13", "base64", "hex", "zlib", "utf-7", "nope"])
def test_json_body_in_a_charset_that_is_no_character_set_is_400(onboard, charset):
    """``application/json; charset=rot13`` (base64, hex, zlib) was a LookupError 500; an
    unknown name was read as UTF-8 and stored."""
    tenant = onboard()
    client = key_client(tenant.api_key)
    client.raise_request_exception = False
    response = client.post(
        _routes(tenant.tenant.id)["provider-configs"],
        data=b'{"provider": "gcp"}',
        content_type=f"application/json; charset={charset}",
    )
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    assert f"Charset '{charset}'" in response.json()["detail"] or (
        f"Unknown charset '{charset}'" in response.json()["detail"]
    )
    _nothing_stored()


@pytest.mark.parametrize(
    ("route", "body", "where"),
    [
        ("provider-configs", '{"provider": "gcp", "settings": {"\\ud800": "x"}}', "settings"),
        ("provider-configs", '{"provider": "gcp", "settings": {"k\\u0000": "x"}}', "settings"),
        ("schedules", SCHEDULE + '"parameters": {"greeting": "\\ud800"}}', "parameters.greeting"),
        ("schedules", SCHEDULE + '"parameters": {"\\udfff": "x"}}', "parameters"),
        ("schedules", SCHEDULE + '"parameters": {"greeting": "a\\u0000"}}', "parameters.greeting"),
        ("run", '{"date": "2024-09-01", "greeting": "\\ud800"}', "greeting"),
        ("run", '{"date": "2024-09-01", "greeting": "\\u0000"}', "greeting"),
        ("run", '{"date": "2024-09-01", "greeting": 1e999}', "greeting"),
        ("run", '{"date": "2024-09-01", "x": [-1E400]}', "x[0]"),
    ],
)
def test_unstorable_json_value_is_400_and_reads_keep_answering(onboard, route, body, where):
    """A lone surrogate or NUL in free-form JSON (a key or a value of provider-config
    settings, schedule parameters, run parameters) was stored and then every read of the row
    answered 500 (SQLite), or the write itself was a 500 (PostgreSQL); 1e999 reads as
    infinity, which no JSON answer can carry."""
    tenant = onboard()
    routes = _routes(tenant.tenant.id)
    client = key_client(tenant.api_key)
    client.raise_request_exception = False
    response = client.post(routes[route], data=body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    detail = response.json()["detail"]
    assert detail.startswith(f"JSON at {where} "), detail
    assert any(word in detail for word in ("lone surrogate", "NUL", "not finite")), detail
    _nothing_stored()
    _reads_answer(client, routes)
