"""Whom a run's warehouse calls act as.

The platform's identity works in the tenant's own dataset. Anything outside the platform
project (a customer's billing export table or bucket) is read as the tenant's own GCP
service account, whose key sits KMS-encrypted in the credential store; the platform grants
that account write access to the tenant's dataset only, so the job can store what it read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.conf import settings

from pipelines.isolation import AccessRefused
from pipelines.warehouse import Warehouse, get_warehouse, warehouse_as_service_account


def tenant_warehouse_factory(*, dataset_id: str, credential) -> Callable[[], Warehouse] | None:
    """A lazy maker of the tenant-identity warehouse; None where that is off (locally)."""
    if not settings.WAREHOUSE_TENANT_IDENTITY:
        return None

    @functools.cache
    def make() -> Warehouse:
        from tenants.services.credentials import credential_secret

        if credential is None:
            raise AccessRefused(
                "reading a source outside the platform acts as the tenant's own service "
                "account: attach a GCP service-account credential to the gcp provider config"
            )
        info = credential_secret(credential=credential)
        get_warehouse().dataset_grant_writer(dataset_id, info["client_email"])
        return warehouse_as_service_account(info)

    return make
