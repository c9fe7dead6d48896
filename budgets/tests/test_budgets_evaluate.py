"""Budgets against FOCUS rows on the emulator: thresholds alert once per period, by email and
by a signed webhook to a real local HTTP receiver, delivered (and retried) by a Celery worker."""

import datetime as dt
import re
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail

from budgets.models import Budget, BudgetAlert, WebhookDelivery
from budgets.selectors import budget_status, period_bounds
from budgets.services.alerts import webhook_set
from budgets.services.budgets import budget_create, budgets_evaluate
from budgets.signing import HEADER, signature_verify
from budgets.tests.conftest import focus_days_write
from tenants.services.audit import Actor

SYSTEM = Actor.system("test")


def _deliveries_settled(tenant, timeout: float = 30) -> list[WebhookDelivery]:
    """The tenant's deliveries once none is pending (the worker records after the POST)."""
    deadline = time.monotonic() + timeout
    while True:
        deliveries = list(WebhookDelivery.objects.filter(endpoint__tenant=tenant))
        pending = [d for d in deliveries if d.status == WebhookDelivery.Status.PENDING]
        if not pending or time.monotonic() > deadline:
            return deliveries
        time.sleep(0.1)


def documented_verify():
    """The ``verify`` function exactly as docs/budgets.md prints it, for receivers to copy."""
    text = (Path(settings.BASE_DIR) / "docs" / "budgets.md").read_text()
    section = text.split("### Verifying a webhook", 1)[1]
    namespace: dict = {}
    exec(re.search(r"```python\n(.*?)```", section, re.S).group(1), namespace)  # noqa: S102
    return namespace["verify"]


def _budget(tenant, **kwargs):
    return budget_create(
        tenant=tenant,
        name=kwargs.pop("name", "cloud"),
        amount=Decimal("1000"),
        thresholds=[{"kind": "actual", "percent": 80}, {"kind": "forecast", "percent": 100}],
        actor=SYSTEM,
        **kwargs,
    )


def test_period_bounds():
    """Months and quarters end on their last day, leap years included."""
    assert period_bounds("monthly", dt.date(2024, 2, 10)) == (
        dt.date(2024, 2, 1),
        dt.date(2024, 2, 29),
    )
    assert period_bounds("quarterly", dt.date(2024, 11, 30)) == (
        dt.date(2024, 10, 1),
        dt.date(2024, 12, 31),
    )


def test_forecast_follows_the_weekday_profile(onboard, warehouse):
    """Weekends at a third of weekdays: the forecast adds each remaining day at its weekday's
    rate, so it differs from a flat run-rate extrapolation and matches the hand computation."""
    onboarded = onboard()
    tenant = onboarded.tenant
    dataset = onboarded.dataset_id
    start = dt.date(2024, 2, 1)
    end = dt.date(2024, 3, 15)
    table = warehouse.quoted(dataset, "aws_cost_focus")
    focus_days_write(warehouse, dataset, start=start, end=end, daily=30)
    warehouse.query(
        f"UPDATE {table} SET BilledCost = 10 "
        "WHERE EXTRACT(DAYOFWEEK FROM ChargePeriodStart) IN (1, 7)"
    )
    budget = _budget(tenant)

    status = budget_status(budget=budget)

    days = [dt.date(2024, 3, d) for d in range(1, 32)]
    cost = {d: 10 if d.weekday() >= 5 else 30 for d in days}
    actual = sum(cost[d] for d in days if d <= end)
    remaining = sum(cost[d] for d in days if d > end)
    assert status.as_of == end
    assert status.actual == Decimal(actual)
    assert abs(status.forecast - Decimal(actual + remaining)) < Decimal("0.05")
    flat = actual / 15 * 31
    assert abs(float(status.forecast) - flat) > 5


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_budget_alerts_once_per_threshold_per_period_by_email_and_webhook(
    onboard, warehouse, receiver, celery_worker
):
    """Forecast 100 % on the 10th, actual 80 % on the 18th: two alerts in all, each once, by
    email and by webhook, whose signature verifies; re-evaluating sends nothing new."""
    onboarded = onboard()
    tenant = onboarded.tenant
    _, secret = webhook_set(tenant=tenant, url=receiver.url, actor=SYSTEM)
    budget = _budget(tenant)
    _budget(tenant, name="other service", service="Amazon Simple Storage Service")
    dataset = onboarded.dataset_id

    focus_days_write(
        warehouse, dataset, start=dt.date(2024, 2, 1), end=dt.date(2024, 3, 10), daily=45
    )
    first = budgets_evaluate(tenant_id=tenant.pk)
    focus_days_write(
        warehouse, dataset, start=dt.date(2024, 2, 1), end=dt.date(2024, 3, 18), daily=45
    )
    second = budgets_evaluate(tenant_id=tenant.pk)
    third = budgets_evaluate(tenant_id=tenant.pk)

    assert [(a.kind, a.percent) for a in first] == [("forecast", 100)]
    assert first[0].actual == Decimal("450.00")
    assert first[0].forecast == Decimal("1395.00")
    assert [(a.kind, a.percent) for a in second] == [("actual", 80)]
    assert second[0].actual == Decimal("810.00")
    assert third == []
    assert BudgetAlert.objects.filter(budget__tenant=tenant).count() == 2

    assert len(mail.outbox) == 2
    forecast_mail, actual_mail = mail.outbox
    assert forecast_mail.to == [tenant.admin_email]
    assert "forecast cost at 139.5%" in forecast_mail.subject
    assert "since 2024-03-01" in forecast_mail.body
    assert f"/admin/tenants/tenant/{tenant.pk}/overview/" in forecast_mail.body
    assert "Actual cost: 810.00 of 1000.00 (81.0%)" in actual_mail.body

    received = receiver.wait_for(2)
    assert len(received) == 2
    verify = documented_verify()
    for headers, body in received:
        assert verify(secret, body, headers[HEADER])
        assert not verify(secret + "x", body, headers[HEADER])
        assert signature_verify(secret=secret, body=body, header=headers[HEADER])
        assert not signature_verify(secret=secret + "x", body=body, header=headers[HEADER])
        assert not signature_verify(secret=secret, body=body + b" ", header=headers[HEADER])
    kinds = sorted((p["threshold"]["kind"], p["budget"]["name"]) for p in receiver.payloads())
    assert kinds == [("actual", "cloud"), ("forecast", "cloud")]
    deliveries = _deliveries_settled(tenant)
    assert sorted(d.status for d in deliveries) == ["delivered", "delivered"]
    # The receiver refused the first attempt: that delivery was retried by the worker.
    assert sorted(d.attempts for d in deliveries) == [1, 2]

    # A new period alerts afresh.
    focus_days_write(
        warehouse, dataset, start=dt.date(2024, 2, 1), end=dt.date(2024, 4, 30), daily=45
    )
    april = budgets_evaluate(tenant_id=tenant.pk)
    assert sorted((a.kind, a.period_start) for a in april) == [
        ("actual", dt.date(2024, 4, 1)),
        ("forecast", dt.date(2024, 4, 1)),
    ]
    assert Budget.objects.get(pk=budget.pk).alerts.count() == 4
