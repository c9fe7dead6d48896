"""Quota windows survive plan changes: limits change, the month's count and reset do not."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from pipelines.models import SlotCounter
from pipelines.services.quotas import runs_admit_batch
from tenants.models import Plan
from tenants.selectors import tenant_usage
from tenants.services.audit import Actor
from tenants.services.lifecycle import subscription_sync


@pytest.mark.django_db
def test_plan_change_with_a_new_period_keeps_the_month_window(onboard):
    """A Stripe plan change that also moves the period start used to open a fresh monthly
    window (monthly.used 2 → 0, resets_at moved)."""
    tenant = onboard().tenant
    now = timezone.now()
    for _ in range(2):
        with transaction.atomic():
            assert runs_admit_batch(wanted={tenant.id: 1}, now=now)[tenant.id].admitted == 1
        # Each probe run ends at once: its concurrency slot is free again (STARTER has one).
        SlotCounter.objects.filter(tenant_id=tenant.id).update(held=0)
    before = tenant_usage(tenant=tenant, now=now)
    assert before["monthly"]["used"] == 2 and before["plan"] == "STARTER"

    subscription = tenant.subscription
    new_start = now - timedelta(days=2)
    subscription_sync(
        subscription=subscription,
        actor=Actor.system("test"),
        as_of=now,
        plan=Plan.objects.get(code="PROFESSIONAL"),
        period=(new_start, new_start + timedelta(days=30)),
    )
    tenant.refresh_from_db()
    with transaction.atomic():
        admission = runs_admit_batch(wanted={tenant.id: 1}, now=now + timedelta(seconds=1))
        assert admission[tenant.id].admitted == 1
    after = tenant_usage(tenant=tenant, now=now + timedelta(seconds=1))
    assert after["plan"] == "PROFESSIONAL"
    assert after["monthly"]["used"] == 3
    assert after["monthly"]["limit"] == 750
    assert after["monthly"]["resets_at"] == before["monthly"]["resets_at"]
    assert after["daily"]["used"] == 3
