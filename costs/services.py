"""Writes of the costs app: retire a tenant's cached cost answers."""

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from costs.models import CostsVersion


def costs_version_bump(*, tenant_id: str) -> None:
    """Every cost answer cached for the tenant so far is stale from now on."""
    updated = CostsVersion.objects.filter(tenant_id=tenant_id).update(
        version=F("version") + 1, updated_at=timezone.now()
    )
    if updated:
        return
    try:
        with transaction.atomic():
            CostsVersion.objects.create(tenant_id=tenant_id, version=1)
    except IntegrityError:  # created by a concurrent bump, or the tenant is gone
        CostsVersion.objects.filter(tenant_id=tenant_id).update(version=F("version") + 1)
