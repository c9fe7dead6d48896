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
import os
import re
import time
import uuid
from collections import Counter

import pytest
import requests
import schemathesis
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
from focus.model import FOCUS_COLUMNS
from pipelines.tests.test_admin import make_run
from scheduling.services.schedules import schedule_create
from tenants.models import Tenant
from tenants.permissions import IsStaff, IsTenantOrStaff
from tenants.services.audit import Actor
from tenants.services.keys import admin_key_issue
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


def _send(case, headers: dict[str, str]) -> None:
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
    case.call_and_validate(headers=headers, excluded_checks=excluded, **extra)


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


def _body_variants(schema: dict, body: dict, resolve, depth: int = 0):
    """``body`` with one property (at any depth) replaced by each of its extreme values."""
    for name, prop in (schema.get("properties") or {}).items():
        prop = resolve(prop)
        for value in _extreme_values(prop):
            yield {**body, name: value}
        inner = body.get(name)
        if prop.get("type") == "object" and isinstance(inner, dict) and depth < 3:
            for variant in _body_variants(prop, inner, resolve, depth + 1):
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
    for kind, cases in (("coverage", coverage), ("extremes", _extremes_of(coverage))):
        started = time.monotonic()
        for case in cases:
            sent[kind] += 1
            try:
                _send(case, headers)
            except (Exception, BaseExceptionGroup) as exc:
                record(kind, exc)
                break  # one failure per operation and pass is enough to read
        sent[f"{kind} seconds"] += time.monotonic() - started
    return failures


def _extremes_of(coverage: list) -> list:
    """The extreme cases built on the coverage phase's first valid request."""
    for case in coverage:
        data = case.meta.phase.data
        if case.meta.generation.mode.is_positive and data.scenario in (
            CoverageScenario.DEFAULT_POSITIVE_TEST,
            CoverageScenario.VALID_OBJECT,
        ):
            _aim(case)
            return _extreme_cases(case.operation, case)
    return []


def _assert_clean(failures: list[str], sent: Counter) -> None:
    print(f"fuzz cases sent: { {kind: round(n) for kind, n in sent.items()} }")
    assert failures == [], "\n".join(failures)
    assert (sent["coverage"] > 300 and sent["extremes"] > 50) or os.environ.get("FUZZ_ONLY")


def test_api_fuzz_as_tenant(api_schema, fuzz_keys):
    """As the fuzz tenant (X-API-Key): every operation generated, the tenant routes also
    through coverage and extremes; no failure of any check."""
    _assert_clean(*_fuzz(api_schema, {"X-API-Key": fuzz_keys["tenant"]}, {"tenant"}))


def test_api_fuzz_as_staff(api_schema, fuzz_keys):
    """As staff (X-Admin-Key): every operation generated, the staff-only routes and the
    unauthenticated ones (webhook, health) also through coverage and extremes."""
    headers = {"X-Admin-Key": fuzz_keys["staff"]}
    _assert_clean(*_fuzz(api_schema, headers, {"staff", "anyone"}))


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
