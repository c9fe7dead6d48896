"""The version of a tenant's cached cost answers."""

from django.db import models

from tenants.models import Tenant


class CostsVersion(models.Model):
    """Bumped when a run writes the tenant's FOCUS tables; cached cost answers carry the
    version they were computed at, so a bump retires them all at once, in every process
    (kept in the control plane, not in the cache: with a per-process cache the worker that
    finished the run and the web process answering would each see only their own)."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, primary_key=True, related_name="costs_version"
    )
    version = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.version}"
