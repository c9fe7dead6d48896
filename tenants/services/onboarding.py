"""Dry run and onboarding (SPEC flow 2): check everything, then create everything or nothing."""

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tenants import hooks
from tenants.errors import ProvisioningFailed, TenantAlreadyExists, TenantInvalid
from tenants.kms import KmsError, kms_ping
from tenants.models import Plan, Subscription, Tenant, tenant_id_validator
from tenants.services.audit import Actor, audit_record
from tenants.services.keys import api_key_issue
from tenants.services.usage import usage_windows_ensure
from warehouse.bigquery import WarehouseError, get_warehouse, tenant_dataset_id
from warehouse.datasets import tenant_dataset_provision

logger = logging.getLogger(__name__)

CONTROL_TABLES = ("tenants_tenant", "tenants_plan", "tenants_subscription", "tenants_apikey")


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    message: str


@dataclass(frozen=True)
class DryRunReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def summary(self) -> dict:
        passed = sum(c.passed for c in self.checks)
        return {
            "total_checks": len(self.checks),
            "passed": passed,
            "failed": len(self.checks) - passed,
            "ready_for_onboarding": passed == len(self.checks),
        }

    def as_dict(self) -> dict:
        return {"checks": [asdict(c) for c in self.checks], "summary": self.summary}


def _check_tenant_id(tenant_id: str) -> Check:
    try:
        tenant_id_validator(tenant_id)
    except ValidationError as exc:
        return Check("tenant_id_format", False, exc.messages[0])
    return Check("tenant_id_format", True, f"{tenant_id!r} is a valid tenant id.")


def _check_email(email: str) -> Check:
    try:
        validate_email(email)
    except ValidationError:
        return Check("admin_email", False, f"{email!r} is not a valid email address.")
    return Check("admin_email", True, "Valid email address.")


def _check_plan(plan_code: str) -> Check:
    if Plan.objects.filter(code=plan_code, is_active=True).exists():
        return Check("plan_exists", True, f"Plan {plan_code} exists.")
    codes = ", ".join(Plan.objects.filter(is_active=True).values_list("code", flat=True))
    return Check("plan_exists", False, f"Unknown plan {plan_code!r}; plans: {codes}.")


def _check_unused(tenant_id: str) -> Check:
    if Tenant.objects.filter(pk=tenant_id).exists():
        return Check("tenant_id_unused", False, f"Tenant {tenant_id!r} already exists.")
    return Check("tenant_id_unused", True, "Tenant id is free.")


def _check_warehouse() -> Check:
    try:
        # ping() runs a test query with a short deadline, so a dead endpoint fails fast.
        get_warehouse().ping()
    except WarehouseError as exc:
        return Check("warehouse_reachable", False, f"Test query failed: {type(exc).__name__}.")
    return Check("warehouse_reachable", True, "Warehouse answered a test query.")


def _check_kms() -> Check:
    try:
        kms_ping()
    except KmsError as exc:
        return Check("kms_reachable", False, f"KMS unavailable: {type(exc).__name__}.")
    return Check("kms_reachable", True, "KMS reachable.")


def _check_control_tables() -> Check:
    missing = sorted(set(CONTROL_TABLES) - set(connection.introspection.table_names()))
    if missing:
        return Check("control_tables", False, f"Missing tables (run migrate): {missing}.")
    return Check("control_tables", True, "Control tables present.")


# The onboarding body (API and admin form alike), which the dry run takes too.
ONBOARDING_FIELDS = (
    "tenant_id",
    "company_name",
    "admin_email",
    "plan",
    "status",
    "force_recreate_dataset",
    "force_recreate_tables",
)


def onboarding_arguments(body: Mapping[str, Any]) -> dict[str, Any]:
    """``tenant_onboard``'s and ``tenant_dry_run``'s arguments from a checked onboarding body
    (``plan`` is ``plan_code``)."""
    arguments = {name: body[name] for name in ONBOARDING_FIELDS}
    arguments["plan_code"] = arguments.pop("plan")
    return arguments


def tenant_dry_run(
    *,
    tenant_id: str,
    admin_email: str,
    plan_code: str,
    company_name: str = "",
    status: str = Tenant.Status.TRIAL,
    force_recreate_dataset: bool = False,
    force_recreate_tables: bool = False,
) -> DryRunReport:
    """Every onboarding check on exactly what ``tenant_onboard`` would be given, each reported
    pass/fail, and what onboarding would do with the dataset; creates nothing."""
    id_check = _check_tenant_id(tenant_id)
    warehouse_check = _check_warehouse()
    checks = [
        id_check,
        _check_company_name(company_name),
        _check_email(admin_email),
        _check_plan(plan_code),
        _check_unused(tenant_id)
        if id_check.passed
        else Check("tenant_id_unused", False, "Skipped: invalid tenant id."),
        warehouse_check,
        _check_kms(),
        _check_control_tables(),
        *(Check(*check()) for check in hooks.dry_run_checks),
    ]
    if id_check.passed and warehouse_check.passed:
        checks.append(
            _dataset_plan(tenant_id, status, force_recreate_dataset, force_recreate_tables)
        )
    return DryRunReport(checks=checks)


def _check_company_name(company_name: str) -> Check:
    if not company_name.strip():
        return Check("company_name", False, "Company name is required.")
    return Check("company_name", True, f"Company name {company_name.strip()!r}.")


def _dataset_plan(
    tenant_id: str, status: str, force_recreate_dataset: bool, force_recreate_tables: bool
) -> Check:
    """What onboarding would do in the warehouse (``tenant_dataset_provision``)."""
    dataset_id = tenant_dataset_id(tenant_id)
    try:
        exists = get_warehouse().dataset_exists(dataset_id)
    except WarehouseError as exc:
        return Check("dataset", False, f"Could not look for the dataset: {type(exc).__name__}.")
    if not exists:
        action = f"Dataset {dataset_id} would be created with its log tables and view"
    elif force_recreate_dataset:
        action = (
            f"Dataset {dataset_id} exists and would be dropped with all its tables, then "
            "created again"
        )
    elif force_recreate_tables:
        action = (
            f"Dataset {dataset_id} exists; its log tables and view would be recreated, its "
            "other tables kept"
        )
    else:
        action = (
            f"Dataset {dataset_id} exists and would be kept; missing log tables would be "
            "created and the view replaced"
        )
    return Check("dataset", True, f"{action}; the tenant would start as {status}.")


@dataclass(frozen=True)
class Onboarded:
    tenant: Tenant
    api_key: str
    dataset_id: str


def tenant_onboard(
    *,
    tenant_id: str,
    company_name: str,
    admin_email: str,
    plan_code: str,
    actor: Actor,
    status: str = Tenant.Status.TRIAL,
    stripe_customer_id: str = "",
    stripe_subscription_id: str = "",
    period_start: datetime | None = None,
    force_recreate_dataset: bool = False,
    force_recreate_tables: bool = False,
) -> Onboarded:
    """Create the tenant, subscription, usage windows, first API key and dataset, or nothing.

    Raises TenantInvalid, TenantAlreadyExists or ProvisioningFailed.
    """
    for check in (_check_tenant_id(tenant_id), _check_email(admin_email), _check_plan(plan_code)):
        if not check.passed:
            name = {"tenant_id_format": "tenant_id", "plan_exists": "plan"}.get(
                check.name, check.name
            )
            raise TenantInvalid(check.message, field=name)
    if not company_name.strip():
        raise TenantInvalid("Company name is required.", field="company_name")
    if Tenant.objects.filter(pk=tenant_id).exists():
        raise TenantAlreadyExists(f"Tenant {tenant_id!r} already exists.", field="tenant_id")

    now = timezone.now()
    period_start = period_start or now
    try:
        with transaction.atomic():
            tenant = Tenant.objects.create(
                id=tenant_id,
                company_name=company_name.strip(),
                admin_email=admin_email,
                status=status,
                stripe_customer_id=stripe_customer_id,
                dataset_id=tenant_dataset_id(tenant_id),
            )
            Subscription.objects.create(
                tenant=tenant,
                plan=Plan.objects.get(code=plan_code),
                status=Subscription.Status.ACTIVE
                if status == Tenant.Status.ACTIVE
                else Subscription.Status.TRIALING,
                stripe_subscription_id=stripe_subscription_id,
                current_period_start=period_start,
                current_period_end=period_start + relativedelta(months=1),
            )
            usage_windows_ensure(tenant=tenant, now=now)
            for step in hooks.onboard_steps:
                step(tenant)
            issued = api_key_issue(tenant=tenant, actor=actor, name="initial")
            audit_record(
                actor=actor,
                action="tenant.onboard",
                tenant_id=tenant.id,
                target=tenant.id,
                details={"plan": plan_code, "status": status},
            )
            # Last, so a database failure above never leaves a dataset behind; a warehouse
            # failure here removes what it made and rolls the rows back.
            provisioned = tenant_dataset_provision(
                tenant_id=tenant.id,
                force_recreate_dataset=force_recreate_dataset,
                force_recreate_tables=force_recreate_tables,
            )
    except IntegrityError as exc:
        raise TenantAlreadyExists(
            f"Tenant {tenant_id!r} already exists.", field="tenant_id"
        ) from exc
    except WarehouseError as exc:
        raise ProvisioningFailed(f"Warehouse step failed, nothing was created: {exc}") from exc
    logger.info("tenant %s onboarded on plan %s", tenant.id, plan_code)
    return Onboarded(tenant=tenant, api_key=issued.plaintext, dataset_id=provisioned.dataset_id)
