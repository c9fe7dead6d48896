"""Whom a tenant's warehouse calls act as, and the tenant's own identity's provisioning.

With ``WAREHOUSE_TENANT_IDENTITY`` on (production), every BigQuery job of a tenant's work
runs as the service account the platform made for that tenant (``warehouse.iam``), granted
``WRITER`` on the tenant's dataset only. A statement that reaches outside the platform
project (a customer's billing export or bucket, named or behind a view or external table)
runs as the tenant's own GCP service account where it stored one (its key sits KMS-encrypted
in the credential store; it too is granted the tenant's dataset only), else as the
platform-managed one, which the tenant grants read on its sources. Never as the platform.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.conf import settings

from warehouse.bigquery import (
    Warehouse,
    get_warehouse,
    warehouse_acting_as,
    warehouse_as_service_account,
)
from warehouse.iam import ManagedIdentity, impersonated, managed_identity, service_account_ensure


def tenant_identity_provision(*, tenant_id: str, dataset_id: str) -> ManagedIdentity:
    """Create the tenant's service account and grant it its dataset, and only that (onboarding)."""
    identity = managed_identity(tenant_id)
    service_account_ensure(identity)
    get_warehouse().dataset_grant_writer(dataset_id, identity.email)
    return identity


def managed_warehouse(tenant_id: str) -> Warehouse:
    """The warehouse acting as the tenant's platform-managed account; its jobs run in the
    account's project (where it holds ``roles/bigquery.jobUser``, and nothing else)."""
    return _managed_warehouse(
        managed_identity(tenant_id),
        settings.WAREHOUSE_ENDPOINT,
        settings.WAREHOUSE_IAM_ENDPOINT,
        settings.WAREHOUSE_CREDENTIALS_FILE,
    )


# A worker serves many tenants: keep the recent ones' clients (and their tokens), not all.
@functools.lru_cache(maxsize=256)
def _managed_warehouse(identity: ManagedIdentity, *settings_key: str) -> Warehouse:
    return warehouse_acting_as(impersonated(identity), job_project=identity.project)


def foreign_warehouse_factory(
    *,
    dataset_id: str,
    managed: Warehouse,
    service_account: Callable[[], dict | None] | None,
) -> Callable[[], Warehouse]:
    """A lazy maker of the warehouse that reads the tenant's sources outside the platform.

    ``service_account`` gives the tenant's decrypted service-account key (None when it stored
    none); it is called only when a statement reaches outside the platform project. The
    tenant's own account is granted write on the tenant's dataset only, so its job can store
    what it read there.
    """

    @functools.cache
    def make() -> Warehouse:
        info = service_account() if service_account is not None else None
        if info is None:
            return managed
        get_warehouse().dataset_grant_writer(dataset_id, info["client_email"])
        return warehouse_as_service_account(info)

    return make
