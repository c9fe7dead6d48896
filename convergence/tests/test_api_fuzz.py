"""The API fuzzed from its own live OpenAPI schema with schemathesis, as a tenant and as staff.

Every operation gets three passes, and every response every check (no 5xx, status codes,
content types, headers and bodies as documented, valid data accepted, invalid data refused,
auth enforced):

- generated: Hypothesis examples in positive and negative mode (bounded, deterministic);
- coverage: schemathesis' coverage phase, which derives boundary values from the schema
  itself: each bound and one past it, wrong types, missing and unknown fields, wrong methods
  and content types;
- extremes: what neither reaches, as the original reports sent it: integers past 64 bits,
  dates in years 1 and 9999, megabyte strings, JSON nested 1,000 and 100,000 deep.

Stripe webhook deliveries are signed as Stripe would sign them (unless the case is about a bad
signature), so generated events reach the event checks and the store. Tenant routes are aimed
at the fuzz tenant and schedule routes at its schedule, so inputs get past the 404.
``docs/api-fuzz.md`` says how each fixed 500, put back, makes this test fail.
"""

import datetime as dt
import decimal
import json
import os
import re
import time
import uuid
from collections import Counter
from decimal import Decimal

import pytest
import requests
import schemathesis
from django.conf import settings as settings_module
from django.urls import resolve
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from requests.auth import AuthBase
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.drivers import CoverageGenerator
from schemathesis.generation.feedback import NO_FEEDBACK
from schemathesis.generation.meta import CoverageScenario
from schemathesis.generation.overrides import Override
from schemathesis.specs.openapi.checks import positive_data_acceptance

from billing.stripe_client import webhook_signature_header
from budgets.models import Budget, WebhookEndpoint
from budgets.services.budgets import budget_create
from focus.model import FOCUS_COLUMNS
from mappings.models import FocusMapping
from mappings.services import mapping_create
from pipelines.models import PipelineRun
from pipelines.tests.test_admin import make_run
from scheduling.models import Schedule
from scheduling.services.schedules import schedule_create
from tenants.models import Tenant
from tenants.permissions import IsStaff, IsTenantOrStaff
from tenants.services.audit import Actor
from tenants.services.credentials import credential_store
from tenants.services.keys import admin_key_issue, api_key_issue
from tenants.services.onboarding import tenant_onboard

FUZZ_TENANT = "fuzz_co"
MAX_EXAMPLES = 8
# Examples per mode on the operations the other credentials are for (a tenant key on a staff
# route): enough to see auth enforced and the refusal documented.
OTHERS_EXAMPLES = 2
# The coverage phase sends every enum value once (600 time zones for a schedule); a few of
# each are enough, every other case of the phase is sent.
MAX_ENUM_CASES = 3
WEBHOOK = ("POST", "/api/v1/billing/stripe/webhook")
AUTH_HEADERS = ("X-API-Key", "X-Admin-Key")

# Operations whose valid-looking input can still be refused with 400 for reasons a schema
# cannot state: they depend on server data (plan codes, pipeline configs and their
# parameters, existing credentials, FOCUS mappings), on semantics (cron expressions, date
# ranges), on the clock (a key's expiry must be in the future), on a secret (the webhook's
# signature) or on the network (an alert webhook URL's host must resolve, to public
# addresses only).
DATA_DEPENDENT = {
    ("POST", "/api/v1/admin/api-keys"),
    ("POST", "/api/v1/tenants/{tenant_id}/api-keys"),
    WEBHOOK,
    ("POST", "/api/v1/tenants/onboard"),
    ("POST", "/api/v1/admin/tenants"),
    ("POST", "/api/v1/pipelines/run/{tenant_id}/{provider}/{domain}/{pipeline}"),
    ("POST", "/api/v1/scheduler/tenant/{tenant_id}/pipelines"),
    ("PATCH", "/api/v1/scheduler/tenant/{tenant_id}/pipelines/{config_id}"),
    ("POST", "/api/v1/scheduler/tenant/{tenant_id}/pipelines/{config_id}/backfill"),
    ("POST", "/api/v1/tenants/{tenant_id}/credentials"),
    ("POST", "/api/v1/tenants/{tenant_id}/provider-configs"),
    # A tag filter needs both its key and its value (OpenAPI 3.0 cannot say so).
    ("POST", "/api/v1/tenants/{tenant_id}/budgets"),
    # An alert webhook URL's host must be valid and resolve, to public addresses only.
    ("PUT", "/api/v1/tenants/{tenant_id}/webhook"),
    # A mapping's YAML must validate, and a preview's sample must have the mapping's columns.
    ("POST", "/api/v1/tenants/{tenant_id}/mappings"),
    ("PUT", "/api/v1/tenants/{tenant_id}/mappings/{mapping_id}"),
    ("POST", "/api/v1/tenants/{tenant_id}/mappings/{mapping_id}/preview"),
    # A connection check needs a provider config with an export connected and reachable.
    ("POST", "/api/v1/tenants/{tenant_id}/provider-configs/{config_id}/check"),
    # Costs: start before end and at most 13 months apart, and the filter a JSON object of
    # dimensions (OpenAPI 3.0 cannot relate two parameters or a string's JSON content).
    ("GET", "/api/v1/tenants/{tenant_id}/costs"),
    ("GET", "/api/v1/tenants/{tenant_id}/costs/export"),
}

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def fuzz_keys(warehouse, settings):
    """A tenant with a key, a schedule and a run, and a staff key; the fuzz revokes neither
    key and deletes neither the schedule nor the run (see ``_aim``)."""
    settings.STRIPE_WEBHOOK_SECRET = "whsec_fuzz_only"
    onboarded = tenant_onboard(
        tenant_id=FUZZ_TENANT,
        company_name="Fuzz Co",
        admin_email="fuzz@example.com",
        plan_code="SCALE",
        actor=Actor.system("fuzz"),
    )
    schedule = schedule_create(
        tenant=onboarded.tenant,
        provider="example",
        domain="demo",
        pipeline="hello",
        cron="0 * * * *",
        actor=Actor.system("fuzz"),
    )
    # FOCUS rows, so the costs routes reach their warehouse statements (no table: no query).
    warehouse.table_create(onboarded.dataset_id, "aws_cost_focus", list(FOCUS_COLUMNS))
    warehouse.insert_rows(
        onboarded.dataset_id,
        "aws_cost_focus",
        [
            {
                "ChargePeriodStart": dt.datetime(year, 1, 15, tzinfo=dt.UTC),
                "BillingCurrency": "USD",
                "ProviderName": "AWS",
                "ServiceName": "Amazon EC2",
                "Tags": {"team": "data"},
                "BilledCost": decimal.Decimal("1.25"),
            }
            for year in (2000, 2024, 2099)
        ],
    )
    # A finished run, so the runs list reaches its LIMIT query (an empty list never does).
    run = make_run(onboarded.tenant)
    staff = admin_key_issue(actor=Actor.system("fuzz"), name="fuzz")
    targets.update(config_id=schedule.pk, run_id=str(run.pk))
    protected.update(onboarded.tenant.api_keys.values_list("pk", flat=True))
    protected.add(staff.record.pk)
    yield {"tenant": onboarded.api_key, "staff": staff.plaintext}
    protected.clear()
    targets.clear()
    for dataset_id in Tenant.objects.values_list("dataset_id", flat=True):
        warehouse.dataset_delete(dataset_id)


protected: set[int] = set()
targets: dict[str, int | str] = {}  # config_id, run_id: the fuzz tenant's schedule and run


@pytest.fixture
def api_schema(live_server, fuzz_keys):
    return schemathesis.openapi.from_url(f"{live_server.url}/api/schema/")


def _label(case) -> tuple[str, str]:
    return case.operation.method.upper(), case.operation.path


def _aim(case) -> None:
    """Valid path parameters point at the fuzz tenant, its schedule and its run (random ids
    would only ever meet 404); the fuzz's own keys, schedule and run are never revoked or
    deleted. (Extreme cases are built on an aimed case and keep their own path.)"""
    params = case.path_parameters
    if not params or case.meta is None or case.meta.is_negative_at(ParameterLocation.PATH):
        return
    if isinstance(params.get("tenant_id"), str):
        params["tenant_id"] = FUZZ_TENANT
    for name in ("config_id", "run_id"):
        if name in params and case.method.upper() != "DELETE":
            params[name] = targets[name]
    if str(params.get("key_id")) in {str(pk) for pk in protected}:
        params["key_id"] = int(params["key_id"]) + 1_000_000


class _StripeSigner(AuthBase):
    """Sign the body exactly as sent, as Stripe signs a delivery."""

    def __call__(self, request):
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        request.headers["Stripe-Signature"] = webhook_signature_header(
            payload=body.decode("utf-8", "replace")
        )
        return request


def _send(case, headers: dict[str, str]):
    """One case with every check; the webhook's deliveries signed unless the case is about
    the signature header."""
    _aim(case)
    if case.headers:
        for name in AUTH_HEADERS:
            case.headers.pop(name, None)
    excluded = [positive_data_acceptance] if _label(case) in DATA_DEPENDENT else []
    extra = {}
    if (
        _label(case) == WEBHOOK
        and case.headers
        and "Stripe-Signature" in case.headers
        and not (case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER))
    ):
        extra["auth"] = _StripeSigner()
    return case.call_and_validate(headers=headers, excluded_checks=excluded, **extra)


FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _generated(operation, mode: GenerationMode, headers: dict[str, str], examples: int) -> None:
    """Hypothesis' examples of one operation in one generation mode."""

    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        _send(case, headers)

    run()


def _coverage_cases(operation) -> list:
    """The coverage phase's cases for one operation, a few per enum."""
    generator = CoverageGenerator(
        operation=operation,
        generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        generation_config=operation.schema.config.generation_for(
            operation=operation, phase="coverage"
        ),
        auth_storage=None,
        override=Override(),
        feedback=NO_FEEDBACK,
    )
    per_enum: Counter = Counter()
    cases = []
    for case in generator:
        data = case.meta.phase.data
        if data.scenario in (CoverageScenario.ENUM_VALUE, CoverageScenario.VALID_OBJECT):
            per_enum[(data.scenario, data.parameter, data.description)] += 1
            if per_enum[(data.scenario, data.parameter, data.description)] > MAX_ENUM_CASES:
                continue
        cases.append(case)
    return cases


# Values no schema bound lets through and that the fixed 500s needed: 64-bit overflow, float
# exponents, the calendar's ends, megabyte strings, and JSON nesting.
HUGE_INTEGERS = [2**63, -(2**63) - 1, 1e20, 10**30]
EXTREME_DATES = {
    "date": ["0001-01-01", "9999-12-31"],
    "date-time": ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"],
}
LONG_STRING = "x" * 100_000
DEEP_BODIES = [
    b"[" * 1_000 + b"]" * 1_000,
    b'{"a":' * 1_000 + b"1" + b"}" * 1_000,
    b"[" * 100_000 + b"]" * 100_000,
]


def _extreme_values(schema: dict) -> list:
    kind = schema.get("type")
    if kind == "integer":
        return HUGE_INTEGERS
    if kind == "number":
        return [1e308, -1e308, 2**63]
    if kind == "string":
        if schema.get("format") in EXTREME_DATES:
            return EXTREME_DATES[schema["format"]]
        return [LONG_STRING]
    if kind == "array":
        return [[None] * 10_000]
    return []


def _resolver(bundle: dict):
    """Follow the ``$ref``s schemathesis bundles a body schema with."""

    def resolve(node: dict) -> dict:
        while "$ref" in node:
            node = bundle[node["$ref"].rpartition("/")[2]]
        return node

    return resolve


def _body_variants(schema: dict, body: dict, resolve, depth: int = 0, values=_extreme_values):
    """``body`` with one property (at any depth) replaced by each of its ``values`` (by
    default its extreme values)."""
    for name, prop in (schema.get("properties") or {}).items():
        prop = resolve(prop)
        for value in values(prop):
            yield {**body, name: value}
        inner = body.get(name)
        if prop.get("type") == "object" and isinstance(inner, dict) and depth < 3:
            for variant in _body_variants(prop, inner, resolve, depth + 1, values):
                yield {**body, name: variant}


def _extreme_cases(operation, base) -> list:
    """Cases like the valid ``base`` with one query value or body property at an extreme,
    and bodies nested past any stack."""
    cases = []

    def make(**changes):
        fields = {
            "method": base.method,
            "path_parameters": dict(base.path_parameters or {}),
            "headers": dict(base.headers or {}),
            "query": dict(base.query or {}),
            "body": base.body,
            "media_type": base.media_type,
        }
        cases.append(operation.Case(**{**fields, **changes}))

    for parameter in operation.path_parameters:
        for value in _extreme_values(parameter.definition.get("schema", {})):
            if isinstance(value, int):
                make(path_parameters={**base.path_parameters, parameter.name: str(value)})
    # One query parameter at a time, beside the required ones only: filters that match
    # nothing would stop the request before the value is used.
    required = {p.name: base.query[p.name] for p in operation.query if p.is_required}
    for parameter in operation.query:
        for value in _extreme_values(parameter.definition.get("schema", {})):
            make(query={**required, parameter.name: str(value)[:10_000]})
    if base.media_type == "application/json":
        body_schema = operation.body[0].definition.get("schema", {})
        if isinstance(base.body, dict):
            resolve = _resolver(body_schema.get("x-bundled", {}))
            for body in _body_variants(resolve(body_schema), base.body, resolve):
                make(body=body)
        for raw in DEEP_BODIES:
            make(body=raw)
    return cases


# Input the server must refuse with a 4xx whatever the operation (issue 27): a charset that
# is no character set (on every operation, with a query string, before Django reads it),
# values no answer could carry in every free-form JSON object (a lone surrogate as a key and
# as a value, a NUL, 1e999), and every date and date-time in the spellings Python reads and
# the schema does not.
CHARSETS = ["rot13", "base64", "hex", "zlib", "utf-7", "x-no-such-charset"]
NOT_A_FLOAT = "__1e999__"  # replaced by the number 1e999 in the bytes sent
UNSTORABLE = {"lone surrogate": "\ud800", "NUL": "a\x00", "not finite": NOT_A_FLOAT}
# Each spelling below names 2026-11-02 (midnight UTC), the day the other date fields of the
# body are set to, so a server that read it would accept the request: only the format can
# be why it is refused, and the refusal must say so.
NOT_ISO_DAY = {"date": "2026-11-02", "date-time": "2026-11-02T00:00:00Z"}
NOT_ISO_REFUSAL = {
    "date": "Must be a date as YYYY-MM-DD",
    "date-time": "Must be a date-time as RFC 3339",
}
NOT_ISO = {
    "date": [
        "2026-W45-1",
        "20261102",
        "2026-11-2",
        "2026-11-02\n",
        "\u0662\u0660\u0662\u0666-\u0661\u0661-\u0660\u0662",
        "\uff12\uff10\uff12\uff16-\uff11\uff11-\uff10\uff12",
    ],
    "date-time": [
        "20261102T000000Z",
        "2026-W45-1T00:00:00Z",
        "2026-11-02T00:00:00",
        "2026-11-02 00:00:00Z",
        "2026-11-02T00:00:00Z\n",
        "\uff12\uff10\uff12\uff16-11-02T00:00:00Z",
    ],
}


def _json_bytes(body) -> bytes:
    """``body`` as JSON text with its escapes (a lone surrogate cannot be UTF-8 encoded) and
    the 1e999 placeholders made numbers."""
    return json.dumps(body).replace(f'"{NOT_A_FLOAT}"', "1e999").encode()


def _free_form(schema: dict) -> bool:
    """An object whose keys the schema leaves open (settings, parameters, a Stripe event)."""
    return (schema.get("type") == "object" or "properties" in schema) and schema.get(
        "additionalProperties", True
    ) is not False


def _unstorable_variants(schema: dict, body: dict, resolve, depth: int = 0):
    """``body`` with each unstorable value (and a lone surrogate as a key) put in each of its
    free-form objects, at any depth: ``(body, what the refusal must name)``."""
    if _free_form(schema):
        yield {**body, "\udc00": "x"}, "lone surrogate"
        for problem, value in UNSTORABLE.items():
            yield {**body, "fuzz": value}, problem
    if depth < 3:
        for name, prop in (schema.get("properties") or {}).items():
            prop = resolve(prop)
            if prop.get("type") == "object" or "properties" in prop:
                inner = body.get(name) if isinstance(body.get(name), dict) else {}
                for variant, problem in _unstorable_variants(prop, inner, resolve, depth + 1):
                    yield {**body, name: variant}, problem


def _not_iso_values(schema: dict) -> list:
    return NOT_ISO.get(schema.get("format"), []) if schema.get("type") == "string" else []


def _on_the_day(schema: dict, body: dict, resolve) -> dict:
    """``body`` with each date and date-time property (at any depth) on NOT_ISO_DAY."""
    body = dict(body)
    for name, prop in (schema.get("properties") or {}).items():
        prop = resolve(prop)
        if prop.get("type") == "string" and prop.get("format") in NOT_ISO_DAY:
            body[name] = NOT_ISO_DAY[prop["format"]]
        elif isinstance(body.get(name), dict):
            body[name] = _on_the_day(prop, body[name], resolve)
    return body


def _refused_cases(operation, base) -> list:
    """``(case, fragment)``: cases like the valid ``base`` that must be refused with a 4xx
    whose ``detail`` names ``fragment``."""
    cases = []

    def make(fragment: str, **changes):
        fields = {
            "method": base.method,
            "path_parameters": dict(base.path_parameters or {}),
            "headers": dict(base.headers or {}),
            "query": dict(base.query or {}),
            "body": base.body,
            "media_type": base.media_type,
        }
        cases.append((operation.Case(**{**fields, **changes}), fragment))

    media = base.media_type or "text/plain"
    for charset in CHARSETS:
        make(
            f"'{charset}'",
            headers={**(base.headers or {}), "Content-Type": f"{media}; charset={charset}"},
            query={**(base.query or {}), "x": "1"},
        )
    required = {p.name: base.query[p.name] for p in operation.query if p.is_required}
    for parameter in operation.query:
        schema = parameter.definition.get("schema", {})
        for value in _not_iso_values(schema):
            refusal = f"{parameter.name}: {NOT_ISO_REFUSAL[schema['format']]}"
            make(refusal, query={**required, parameter.name: value})
    if base.media_type == "application/json" and isinstance(base.body, dict):
        body_schema = operation.body[0].definition.get("schema", {})
        resolve = _resolver(body_schema.get("x-bundled", {}))
        for body, problem in _unstorable_variants(resolve(body_schema), base.body, resolve):
            make(problem, body=_json_bytes(body))
        on_the_day = _on_the_day(resolve(body_schema), base.body, resolve)
        for kind, spellings in NOT_ISO.items():

            def values(prop: dict, kind=kind, spellings=spellings) -> list:
                return spellings if prop.get("format") == kind else []

            for body in _body_variants(resolve(body_schema), on_the_day, resolve, values=values):
                name = next(k for k in body if body[k] != on_the_day.get(k))
                where = f"{name}: " if isinstance(body[name], str) else ""  # else nested
                make(where + NOT_ISO_REFUSAL[kind], body=body)
    return cases


def _refused(case, fragment: str, headers: dict[str, str]) -> None:
    """Send a case that must be refused; every check, then a 4xx naming ``fragment``."""
    response = _send(case, headers)
    detail = response.json().get("detail", "") if response.content else ""
    if not (400 <= response.status_code < 500 and fragment in str(detail)):
        raise AssertionError(
            f"expected a 4xx naming {fragment!r}, got {response.status_code}: "
            f"{response.text[:300]} (query {case.query!r}, body {str(case.body)[:200]!r})"
        )


def _audience(operation) -> str:
    """Whom an operation is for, from its view's permissions: "tenant" (tenant or staff),
    "staff" (staff only) or "anyone" (webhook, health)."""
    path = re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PATH_VALUES.get(m[1], "1"), operation.path)
    view = resolve(path).func.view_class
    permissions = set(getattr(view, "permission_classes", []))
    if IsTenantOrStaff in permissions:
        return "tenant"
    return "staff" if IsStaff in permissions else "anyone"


SAMPLE_PATH_VALUES = {"tenant_id": FUZZ_TENANT, "run_id": str(uuid.UUID(int=0))}


def _fuzz(schema, headers: dict[str, str], deep: set[str]) -> tuple[list[str], Counter]:
    """Every operation through the generated pass; those whose security schemes are in
    ``deep`` (the ones these credentials are for) also through coverage and extremes.
    The failures, one line each, and how many cases each pass sent.

    (schemathesis' own pytest plugin does not run under this pytest, so the operations are
    walked here.)
    """
    only = os.environ.get("FUZZ_ONLY", "")  # a substring of operation labels, for a quick run
    failures: list[str] = []
    sent: Counter = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    for operation in operations:
        if only in operation.label:
            failures += _fuzz_operation(operation, headers, deep, sent)
    return failures, sent


def _fuzz_operation(operation, headers: dict[str, str], deep: set[str], sent: Counter):
    failures: list[str] = []

    def record(kind: str, exc: BaseException) -> None:
        summary = str(exc).strip().splitlines()
        failures.append(f"{operation.label} [{kind}]: {' | '.join(summary[:12])}")

    ours = _audience(operation) in deep
    examples = MAX_EXAMPLES if ours else OTHERS_EXAMPLES
    started = time.monotonic()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        try:
            _generated(operation, mode, headers, examples)
            sent["generated"] += examples
        except Unsatisfiable:
            # No schema-violating input exists for this operation (a bare string in the path
            # is all it takes): nothing to send in negative mode.
            continue
        except (Exception, BaseExceptionGroup) as exc:  # every operation is fuzzed first
            record(mode.value, exc)
    sent["generated seconds"] += time.monotonic() - started
    if not ours:
        return failures
    coverage = _coverage_cases(operation)
    passes = (
        ("coverage", [(case, None) for case in coverage]),
        ("extremes", [(case, None) for case in _extremes_of(coverage, _extreme_cases)]),
        ("refused", _extremes_of(coverage, _refused_cases)),
    )
    for kind, cases in passes:
        started = time.monotonic()
        for case, fragment in cases:
            sent[kind] += 1
            try:
                if fragment is None:
                    _send(case, headers)
                else:
                    _refused(case, fragment, headers)
            except (Exception, BaseExceptionGroup) as exc:
                record(kind, exc)
                break  # one failure per operation and pass is enough to read
        sent[f"{kind} seconds"] += time.monotonic() - started
    return failures


def _extremes_of(coverage: list, build) -> list:
    """The cases ``build`` makes on the coverage phase's first valid request."""
    for case in coverage:
        data = case.meta.phase.data
        if case.meta.generation.mode.is_positive and data.scenario in (
            CoverageScenario.DEFAULT_POSITIVE_TEST,
            CoverageScenario.VALID_OBJECT,
        ):
            _aim(case)
            return build(case.operation, case)
    return []


# Each path parameter of a read, and the objects of the fuzz tenant it can name.
READ_BACK_IDS = {
    "tenant_id": lambda: [FUZZ_TENANT],
    "run_id": lambda: [
        str(pk)
        for pk in PipelineRun.objects.filter(tenant_id=FUZZ_TENANT).values_list("pk", flat=True)
    ],
    "config_id": lambda: list(
        Schedule.objects.filter(tenant_id=FUZZ_TENANT).values_list("pk", flat=True)
    ),
    "budget_id": lambda: list(
        Budget.objects.filter(tenant_id=FUZZ_TENANT).values_list("pk", flat=True)
    ),
    "mapping_id": lambda: list(
        FocusMapping.objects.filter(tenant_id=FUZZ_TENANT).values_list("pk", flat=True)
    ),
}


# Reads of one object that exists only once set (404 until then).
# Reads whose query parameters are required: what the read-back sends them (a year of costs).
READ_BACK_QUERY = {
    "/api/v1/tenants/{tenant_id}/costs": {"start": "2023-01-01", "end": "2023-12-31"},
    "/api/v1/tenants/{tenant_id}/costs/export": {"start": "2023-01-01", "end": "2023-12-31"},
}
READ_BACK_SINGLE = {
    "/api/v1/tenants/{tenant_id}/webhook": lambda: WebhookEndpoint.objects.filter(
        tenant_id=FUZZ_TENANT
    ).exists(),
}


def _read_back(schema, base_url: str, keys: dict[str, str]) -> tuple[list[str], int]:
    """After the fuzz, every read (GET) of the schema on every object the fuzz tenant now
    holds, each page of a list: any answer but 2xx is a failure (a row the fuzz stored that
    no read can render). Also how many reads were made."""
    failures, reads = [], 0
    credentials = {"tenant": {"X-API-Key": keys["tenant"]}, "staff": {"X-Admin-Key": keys["staff"]}}
    for operation in (result.ok() for result in schema.get_all_operations()):
        if operation.method.upper() != "GET":
            continue
        if not READ_BACK_SINGLE.get(operation.path, lambda: True)():
            continue
        names = [p.name for p in operation.path_parameters]
        unknown = set(names) - set(READ_BACK_IDS)
        assert not unknown, f"{operation.label}: say which objects {unknown} can name"
        combinations = [{}]
        for name in names:
            ids = READ_BACK_IDS[name]()
            combinations = [{**c, name: value} for c in combinations for value in ids]
        headers = credentials.get(_audience(operation), {})
        for values in combinations:
            url = base_url + operation.path.format(**values)
            params = READ_BACK_QUERY.get(operation.path)
            while url:
                reads += 1
                response = requests.get(url, headers=headers, params=params, timeout=60)
                params = None  # a next page's URL carries the query
                if not 200 <= response.status_code < 300:
                    failures.append(
                        f"{operation.label} [read back]: HTTP {response.status_code} at {url}: "
                        f"{response.text[:200]}"
                    )
                    break
                if "json" not in response.headers.get("Content-Type", ""):
                    break  # a file (the costs export), read whole
                page = response.json()
                url = page.get("next") if isinstance(page, dict) else None
    return failures, reads


def _assert_clean(failures: list[str], sent: Counter) -> None:
    print(f"fuzz cases sent: { {kind: round(n) for kind, n in sent.items()} }")
    assert failures == [], "\n".join(failures)
    assert (
        sent["coverage"] > 300 and sent["extremes"] > 50 and sent["refused"] > 100
    ) or os.environ.get("FUZZ_ONLY")


def test_api_fuzz_as_tenant(api_schema, fuzz_keys, live_server):
    """As the fuzz tenant (X-API-Key): every operation generated, the tenant routes also
    through coverage, extremes and the refused shapes; no failure of any check. Then every
    read of the tenant's objects answers 2xx: nothing the fuzz stored breaks a later read."""
    failures, sent = _fuzz(api_schema, {"X-API-Key": fuzz_keys["tenant"]}, {"tenant"})
    read_failures, sent["read back"] = _read_back(api_schema, live_server.url, fuzz_keys)
    _assert_clean(failures + read_failures, sent)


def test_api_fuzz_as_staff(api_schema, fuzz_keys, live_server):
    """As staff (X-Admin-Key): every operation generated, the staff-only routes and the
    unauthenticated ones (webhook, health) also through coverage, extremes and the refused
    shapes. Then every read of the fuzz tenant's objects answers 2xx."""
    headers = {"X-Admin-Key": fuzz_keys["staff"]}
    failures, sent = _fuzz(api_schema, headers, {"staff", "anyone"})
    read_failures, sent["read back"] = _read_back(api_schema, live_server.url, fuzz_keys)
    _assert_clean(failures + read_failures, sent)


def _delete_targets(tenant: Tenant) -> dict[str, dict[str, int]]:
    """A real object for each DELETE operation to remove (the fuzz's own are protected, so its
    DELETEs only ever meet 404s)."""
    actor = Actor.system("fuzz")
    oci = (settings_module.BASE_DIR / "mappings" / "library" / "oci.yml").read_text()
    budget = budget_create(
        tenant=tenant,
        name="doomed",
        amount=Decimal("10.00"),
        thresholds=[{"kind": "actual", "percent": 80}],
        actor=actor,
    )
    credential = credential_store(
        tenant=tenant,
        provider="gcp",
        kind="gcp_service_account",
        name="doomed",
        secret={
            "type": "service_account",
            "project_id": "p",
            "private_key": "k",
            "client_email": "e@p.example",
        },
        actor=actor,
    )
    mapping = mapping_create(
        tenant=tenant,
        name="doomed_oci",
        definition=oci.replace("name: oci\n", "name: doomed_oci\n"),
        actor=actor,
    )
    return {
        "/api/v1/tenants/{tenant_id}/api-keys/{key_id}": {
            "key_id": api_key_issue(tenant=tenant, actor=actor).record.pk
        },
        "/api/v1/admin/api-keys/{key_id}": {
            "key_id": api_key_issue(tenant=tenant, actor=actor).record.pk
        },
        # The fixture's own schedule: this test runs no fuzz that needs it afterwards.
        "/api/v1/scheduler/tenant/{tenant_id}/pipelines/{config_id}": {
            "config_id": targets["config_id"]
        },
        "/api/v1/tenants/{tenant_id}/budgets/{budget_id}": {"budget_id": budget.pk},
        "/api/v1/tenants/{tenant_id}/credentials/{credential_id}": {"credential_id": credential.pk},
        "/api/v1/tenants/{tenant_id}/mappings/{mapping_id}": {"mapping_id": mapping.pk},
    }


def test_every_delete_answers_as_documented(api_schema, fuzz_keys):
    """Each DELETE of a real object answers a status, content type and body its schema
    documents, with every check (revoking a key answered 200 with the key where the schema
    documented 204 and no body)."""
    targets_by_path = _delete_targets(Tenant.objects.get(pk=FUZZ_TENANT))
    deletes = [
        result.ok()
        for result in api_schema.get_all_operations()
        if result.ok().method.upper() == "DELETE"
    ]
    assert {operation.path for operation in deletes} == set(targets_by_path)
    for operation in deletes:
        parameters = {"tenant_id": FUZZ_TENANT, **targets_by_path[operation.path]}
        names = {p.name for p in operation.path_parameters}
        case = operation.Case(
            method="DELETE", path_parameters={k: v for k, v in parameters.items() if k in names}
        )
        audience = _audience(operation)
        key = (
            {"X-Admin-Key": fuzz_keys["staff"]}
            if audience == "staff"
            else {"X-API-Key": fuzz_keys["tenant"]}
        )
        response = case.call_and_validate(headers=key)
        assert 200 <= response.status_code < 300, (operation.label, response.text)


def test_signed_webhook_deliveries_reach_the_event_checks(live_server, fuzz_keys):
    """The signer is right: a signed event is stored, a signed bad one is refused by the
    event checks (not by the signature), so the fuzz's webhook cases test those checks."""
    url = f"{live_server.url}/api/v1/billing/stripe/webhook"
    event = {"id": "evt_fuzz", "object": "event", "created": 1, "type": "fuzz.test"}
    signed = {"Stripe-Signature": "x", "Content-Type": "application/json"}
    ok = requests.post(url, json=event, headers=signed, auth=_StripeSigner(), timeout=30)
    assert ok.status_code == 200, ok.text
    bad = requests.post(
        url, json={**event, "created": "abc"}, headers=signed, auth=_StripeSigner(), timeout=30
    )
    assert bad.status_code == 400
    assert bad.json()["detail"].startswith("Invalid Stripe event: created")
