"""The API fuzzed from its own live OpenAPI schema with schemathesis, as a tenant and as staff.

Every operation, positive and negative examples, every check: no 5xx, status codes, content
types, headers and bodies as documented, valid data accepted, invalid data refused, auth
enforced. Examples are bounded so the whole fuzz stays well under five minutes.
"""

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tenants.models import TENANT_ID_PATTERN, Tenant
from tenants.services.audit import Actor
from tenants.services.keys import admin_key_issue
from tenants.services.onboarding import tenant_onboard

FUZZ_TENANT = "fuzz_co"
MAX_EXAMPLES = 8

# Operations whose valid-looking input can still be refused with 400 for reasons a schema
# cannot state: they depend on server data (plan codes, pipeline configs and their
# parameters, existing credentials), on semantics (cron expressions, date ranges), on the
# clock (a key's expiry must be in the future), on a secret (the webhook's signature) or on
# the network (an alert webhook URL's host must resolve, to public addresses only).
DATA_DEPENDENT = {
    ("POST", "/api/v1/admin/api-keys"),
    ("POST", "/api/v1/tenants/{tenant_id}/api-keys"),
    ("POST", "/api/v1/billing/stripe/webhook"),
    ("POST", "/api/v1/tenants/onboard"),
    ("POST", "/api/v1/admin/tenants"),
    ("POST", "/api/v1/pipelines/run/{tenant_id}/{provider}/{domain}/{pipeline}"),
    ("POST", "/api/v1/scheduler/tenant/{tenant_id}/pipelines"),
    ("PATCH", "/api/v1/scheduler/tenant/{tenant_id}/pipelines/{config_id}"),
    ("POST", "/api/v1/scheduler/tenant/{tenant_id}/pipelines/{config_id}/backfill"),
    ("POST", "/api/v1/tenants/{tenant_id}/credentials"),
    ("POST", "/api/v1/tenants/{tenant_id}/provider-configs"),
    ("PUT", "/api/v1/tenants/{tenant_id}/webhook"),
}

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def fuzz_keys(warehouse, settings):
    """A tenant with a key, and a staff key; the fuzz may revoke neither (see the hook)."""
    settings.STRIPE_WEBHOOK_SECRET = "whsec_fuzz_only"
    onboarded = tenant_onboard(
        tenant_id=FUZZ_TENANT,
        company_name="Fuzz Co",
        admin_email="fuzz@example.com",
        plan_code="SCALE",
        actor=Actor.system("fuzz"),
    )
    staff = admin_key_issue(actor=Actor.system("fuzz"), name="fuzz")
    protected.update(onboarded.tenant.api_keys.values_list("pk", flat=True))
    protected.add(staff.record.pk)
    yield {"tenant": onboarded.api_key, "staff": staff.plaintext}
    protected.clear()
    for dataset_id in Tenant.objects.values_list("dataset_id", flat=True):
        warehouse.dataset_delete(dataset_id)


protected: set[int] = set()


@pytest.fixture
def api_schema(live_server, fuzz_keys):
    return schemathesis.openapi.from_url(f"{live_server.url}/api/schema/")


@schemathesis.hook
def map_path_parameters(context, path_parameters):
    """Aim tenant routes at the fuzz tenant (random ids would only ever meet 404), and keep
    the fuzz's own keys from being revoked half-way."""
    if not path_parameters:
        return path_parameters
    tenant_id = path_parameters.get("tenant_id")
    if isinstance(tenant_id, str) and re.match(TENANT_ID_PATTERN, tenant_id):
        path_parameters["tenant_id"] = FUZZ_TENANT
    if path_parameters.get("key_id") in protected:
        path_parameters["key_id"] += 1_000_000
    return path_parameters


FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _fuzz_test(operation, mode: GenerationMode, headers: dict[str, str]):
    """One Hypothesis test of one operation in one generation mode."""
    excluded = []
    if (operation.method.upper(), operation.path) in DATA_DEPENDENT:
        excluded.append(positive_data_acceptance)

    @FUZZ_SETTINGS
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        case.call_and_validate(headers=headers, excluded_checks=excluded)

    return run


def _fuzz(schema, headers: dict[str, str]) -> list[str]:
    """Fuzz every operation in both generation modes; the failures, one line each.

    (schemathesis' own pytest plugin does not run under this pytest, so the operations are
    walked here, each with its own Hypothesis test.)
    """
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz_test(operation, mode, headers)()
            except Unsatisfiable:
                # No schema-violating input exists for this operation (a bare string in the
                # path is all it takes): nothing to send in negative mode.
                continue
            except (Exception, BaseExceptionGroup) as exc:  # every operation is fuzzed first
                summary = str(exc).strip().splitlines()
                failures.append(f"{operation.label} [{mode.value}]: {' | '.join(summary[:12])}")
    return failures


def test_api_fuzz_as_tenant(api_schema, fuzz_keys):
    """As the fuzz tenant (X-API-Key): every operation, no failure of any check."""
    failures = _fuzz(api_schema, {"X-API-Key": fuzz_keys["tenant"]})
    assert failures == [], "\n".join(failures)


def test_api_fuzz_as_staff(api_schema, fuzz_keys):
    """As staff (X-Admin-Key): every operation, no failure of any check."""
    failures = _fuzz(api_schema, {"X-Admin-Key": fuzz_keys["staff"]})
    assert failures == [], "\n".join(failures)
