"""Budget writes: create, delete, and evaluate after a FOCUS run (each threshold once a period)."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.db import IntegrityError, transaction

from budgets.models import Budget, BudgetAlert
from budgets.selectors import budget_status
from budgets.services.alerts import alert_send
from pipelines.selectors import focus_tables_for_tenant
from tenants.models import Tenant
from tenants.services.audit import Actor, audit_record

logger = logging.getLogger(__name__)


class BudgetInvalid(ValueError):
    """A budget that cannot be saved; the message names the problem."""


class BudgetExists(BudgetInvalid):
    """The tenant has a budget of that name already."""


def budget_create(
    *,
    tenant: Tenant,
    name: str,
    amount: Decimal,
    period: str = Budget.Period.MONTHLY,
    provider: str = "",
    service: str = "",
    sub_account: str = "",
    tag_key: str = "",
    tag_value: str = "",
    thresholds: list[dict],
    actor: Actor,
) -> Budget:
    if bool(tag_key) != bool(tag_value):
        raise BudgetInvalid("tag_key and tag_value go together")
    if provider:
        providers = focus_tables_for_tenant(tenant_id=tenant.pk)
        if provider not in providers:
            raise BudgetInvalid(
                f"provider: {provider!r} has no FOCUS costs here; providers: "
                f"{', '.join(sorted(providers))}"
            )
    if Budget.objects.filter(tenant=tenant, name=name).exists():
        raise BudgetExists(f"a budget named {name!r} exists")
    unique = sorted({(t["kind"], int(t["percent"])) for t in thresholds})
    with transaction.atomic():
        budget = Budget.objects.create(
            tenant=tenant,
            name=name,
            amount=amount,
            period=period,
            provider=provider,
            service=service,
            sub_account=sub_account,
            tag_key=tag_key,
            tag_value=tag_value,
            thresholds=[{"kind": k, "percent": p} for k, p in unique],
        )
        audit_record(actor=actor, action="budget.create", tenant_id=tenant.pk, target=name)
    return budget


def budget_delete(*, budget: Budget, actor: Actor) -> None:
    with transaction.atomic():
        audit_record(
            actor=actor, action="budget.delete", tenant_id=budget.tenant_id, target=budget.name
        )
        budget.delete()


def budgets_evaluate(*, tenant_id: str, as_of: dt.date | None = None) -> list[BudgetAlert]:
    """Check every budget of the tenant; record and send each newly crossed threshold.

    A threshold is recorded at most once per budget and period (a unique constraint), so
    re-running the evaluation, or two evaluations at once, alert once.
    """

    created: list[BudgetAlert] = []
    for budget in Budget.objects.filter(tenant_id=tenant_id).select_related("tenant"):
        status = budget_status(budget=budget, as_of=as_of)
        if status.as_of is None:
            continue
        for threshold in budget.thresholds:
            kind, percent = threshold["kind"], int(threshold["percent"])
            value = status.actual if kind == BudgetAlert.Kind.ACTUAL else status.forecast
            if value * 100 < budget.amount * percent:
                continue
            try:
                with transaction.atomic():
                    alert = BudgetAlert.objects.create(
                        budget=budget,
                        period_start=status.period_start,
                        kind=kind,
                        percent=percent,
                        as_of=status.as_of,
                        actual=status.actual,
                        forecast=status.forecast,
                    )
                    alert_send(alert=alert, status=status)
            except IntegrityError:
                continue  # this threshold already alerted in this period
            created.append(alert)
            logger.info("budget %s: %s %s%% crossed", budget.pk, kind, percent)
    return created


def budgets_evaluate_enqueue(*, tenant_id: str) -> None:
    """Queue the evaluation of a tenant's budgets (after a FOCUS run), if it has any."""
    from budgets.tasks import budgets_evaluate_task  # the tasks module imports these services

    if Budget.objects.filter(tenant_id=tenant_id).exists():
        budgets_evaluate_task.delay(tenant_id)
