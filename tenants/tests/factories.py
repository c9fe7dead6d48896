"""factory_boy factories for the tenants app.

``TenantFactory`` writes Tenant and Subscription rows directly, for tests that need no
dataset (admin pages, lists). ``OnboardedTenantFactory`` goes through ``tenant_onboard``
and so needs the ``warehouse`` fixture, and the caller drops the dataset. Keys and
credentials are made by their services, so hashes and encryption are real.
"""

from datetime import timedelta

import factory
from dateutil.relativedelta import relativedelta
from django.utils import timezone

from tenants.models import (
    AdminKey,
    ApiKey,
    AuditEvent,
    CloudCredential,
    Plan,
    Subscription,
    Tenant,
    UsageWindow,
)
from tenants.services.audit import Actor
from tenants.services.credentials import credential_store
from tenants.services.keys import admin_key_issue, api_key_issue
from tenants.services.onboarding import Onboarded, tenant_onboard
from warehouse.bigquery import tenant_dataset_id

TEST_ACTOR = Actor.system("factory")


def seeded_plan(code: str = "STARTER") -> Plan:
    """One of the plans the data migration seeds."""
    return Plan.objects.get(code=code)


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"PLAN_{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())
    runs_per_day = 5
    runs_per_month = 150
    concurrent_runs = 1
    team_members = 2
    providers = 3


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription

    tenant = factory.SubFactory("tenants.tests.factories.TenantFactory", subscription=None)
    plan = factory.LazyFunction(seeded_plan)
    status = Subscription.Status.TRIALING
    current_period_start = factory.LazyFunction(timezone.now)
    current_period_end = factory.LazyAttribute(
        lambda o: o.current_period_start + relativedelta(months=1)
    )


class TenantFactory(factory.django.DjangoModelFactory):
    """A tenant with a subscription but no dataset; for tests that never touch the warehouse."""

    class Meta:
        model = Tenant
        django_get_or_create = ("id",)
        skip_postgeneration_save = True

    id = factory.Sequence(lambda n: f"tenant_{n:04d}")
    company_name = factory.Faker("company")
    admin_email = factory.LazyAttribute(lambda o: f"admin+{o.id}@example.com")
    status = Tenant.Status.TRIAL
    dataset_id = factory.LazyAttribute(lambda o: tenant_dataset_id(o.id))
    subscription = factory.RelatedFactory(SubscriptionFactory, factory_related_name="tenant")


class OnboardedTenantFactory(factory.Factory):
    """A tenant onboarded through the service (needs the ``warehouse`` fixture); returns
    ``Onboarded`` with the tenant, its first API key and its dataset id."""

    class Meta:
        model = Onboarded

    tenant_id = factory.Sequence(lambda n: f"onboarded_{n:04d}")
    company_name = factory.LazyAttribute(lambda o: f"{o.tenant_id} Ltd")
    admin_email = factory.LazyAttribute(lambda o: f"admin+{o.tenant_id}@example.com")
    plan_code = "STARTER"
    actor = TEST_ACTOR

    @classmethod
    def _create(cls, model_class, *args, **kwargs) -> Onboarded:
        return tenant_onboard(**kwargs)

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        raise NotImplementedError("Onboarding has side effects; use create().")


class ApiKeyFactory(factory.django.DjangoModelFactory):
    """An API key issued by ``api_key_issue``; the plaintext is on ``key.plaintext``."""

    class Meta:
        model = ApiKey

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"key {n}")
    expires_at = None

    @classmethod
    def _create(cls, model_class, *args, tenant, name, expires_at, **kwargs) -> ApiKey:
        issued = api_key_issue(tenant=tenant, actor=TEST_ACTOR, name=name, expires_at=expires_at)
        issued.record.plaintext = issued.plaintext
        return issued.record


class AdminKeyFactory(factory.django.DjangoModelFactory):
    """An admin key issued by ``admin_key_issue``; the plaintext is on ``key.plaintext``."""

    class Meta:
        model = AdminKey

    name = factory.Sequence(lambda n: f"admin key {n}")
    expires_at = None

    @classmethod
    def _create(cls, model_class, *args, name, expires_at, **kwargs) -> AdminKey:
        issued = admin_key_issue(actor=TEST_ACTOR, name=name, expires_at=expires_at)
        issued.record.plaintext = issued.plaintext
        return issued.record


class CloudCredentialFactory(factory.django.DjangoModelFactory):
    """A GCP service-account credential, encrypted through ``credential_store``."""

    class Meta:
        model = CloudCredential

    tenant = factory.SubFactory(TenantFactory)
    provider = "gcp"
    kind = CloudCredential.Kind.GCP_SERVICE_ACCOUNT
    name = factory.Sequence(lambda n: f"billing-sa-{n}")
    secret = factory.LazyAttribute(
        lambda o: {
            "type": "service_account",
            "project_id": f"{o.tenant.id}-billing",
            "private_key": "-----BEGIN PRIVATE KEY-----factory",
            "client_email": f"reader@{o.tenant.id}.iam.gserviceaccount.com",
        }
    )

    @classmethod
    def _create(cls, model_class, *args, **kwargs) -> CloudCredential:
        return credential_store(actor=TEST_ACTOR, **kwargs)


class UsageWindowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UsageWindow

    tenant = factory.SubFactory(TenantFactory)
    kind = UsageWindow.Kind.DAY
    starts_at = factory.Sequence(
        lambda n: (
            timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=n)
        )
    )
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(days=1))
    runs_used = 0


class AuditEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditEvent

    # A CharField, not a key: events outlive their tenant, so no tenant row is needed.
    tenant_id = factory.Sequence(lambda n: f"audited_{n:04d}")
    actor_label = "factory"
    action = "tenant.status"
    target = factory.LazyAttribute(lambda o: o.tenant_id)
