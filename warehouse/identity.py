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

from warehouse.bigquery import Warehouse, get_warehouse, warehouse_as_service_account
from warehouse.isolation import AccessRefused


def tenant_warehouse_factory(
    *, dataset_id: str, service_account: Callable[[], dict | None]
) -> Callable[[], Warehouse] | None:
    """A lazy maker of the tenant-identity warehouse; None where that is off (locally).

    ``service_account`` gives the tenant's decrypted service-account key (None when the
    tenant stored none); it is called only when a statement reaches outside the platform.
    """
    if not settings.WAREHOUSE_TENANT_IDENTITY:
        return None

    @functools.cache
    def make() -> Warehouse:
        info = service_account()
        if info is None:
            raise AccessRefused(
                "reading a source outside the platform acts as the tenant's own service "
                "account: attach a GCP service-account credential to the gcp provider config"
            )
        get_warehouse().dataset_grant_writer(dataset_id, info["client_email"])
        return warehouse_as_service_account(info)

    return make
