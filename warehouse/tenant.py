"""``tenant_warehouse()``: the one way to a warehouse for a tenant's work.

Runs, mapping previews, budgets and anomaly reads all get an adapter acting as the tenant
(in production) behind the tenant's access policy (``warehouse.isolation``), so each
statement is checked before the client sees it, whoever built it, and BigQuery's IAM holds
the same line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from django.conf import settings

from warehouse.bigquery import Warehouse, get_warehouse, tenant_dataset_id
from warehouse.files import tenant_files_root
from warehouse.identity import foreign_warehouse_factory, managed_warehouse
from warehouse.isolation import AccessPolicy, GuardedWarehouse


class TenantWarehouse(Protocol):
    """What a tenant's work may ask of the warehouse (``GuardedWarehouse`` implements it)."""

    policy: AccessPolicy

    @property
    def project(self) -> str: ...

    @property
    def dataset_id(self) -> str: ...

    def table_ref(self, dataset_id: str, table_id: str) -> str: ...

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> Any: ...

    def query_pages(
        self, sql: str, params: Mapping[str, Any] | None = None, **options: Any
    ) -> Any: ...

    def load_file(self, source: Any, dataset_id: str, table_id: str, **options: Any) -> Any: ...

    def file_head(self, uri: str) -> bytes: ...

    def table_columns(self, dataset_id: str, table_id: str, *, project: str = "") -> Any: ...

    def table_exists(self, dataset_id: str, table_id: str) -> bool: ...

    def tables_list(self, dataset_id: str) -> list[str]: ...

    def table_create(
        self, dataset_id: str, table_id: str, columns: Iterable[Any], **options: Any
    ) -> None: ...

    def insert_rows(self, dataset_id: str, table_id: str, rows: Iterable[Any]) -> int: ...

    def table_delete(self, dataset_id: str, table_id: str) -> None: ...


def tenant_warehouse(
    *,
    tenant_id: str,
    dataset_id: str | None = None,
    sources: Iterable[str] = (),
    buckets: Iterable[str] = (),
    service_account: Callable[[], dict | None] | None = None,
    warehouse: Warehouse | None = None,
) -> GuardedWarehouse:
    """The warehouse as the tenant's work sees it, guarded by the tenant's policy over its
    dataset (default ``{tenant}_{env}``), the ``sources`` and ``buckets`` of its provider
    config and its local imports folder.

    The identity is chosen here, and only here. With ``WAREHOUSE_TENANT_IDENTITY`` on
    (production) every call acts as the tenant's platform-managed service account, and a
    statement reaching outside the platform as the tenant's own account (``service_account``
    gives its key) or else the managed one: never as the platform. Off (locally, against the
    emulator, which has no IAM), ``warehouse`` (default: the platform's adapter) acts.
    """
    adapter = warehouse or get_warehouse()
    dataset_id = dataset_id or tenant_dataset_id(tenant_id)
    policy = AccessPolicy(
        project=adapter.project,
        tenant_id=tenant_id,
        dataset_id=dataset_id,
        sources=frozenset(sources),
        buckets=frozenset(buckets),
        files_root=tenant_files_root(tenant_id),
    )
    if not settings.WAREHOUSE_TENANT_IDENTITY:
        return GuardedWarehouse(adapter, policy)
    managed = managed_warehouse(tenant_id)
    foreign = foreign_warehouse_factory(
        dataset_id=dataset_id, managed=managed, service_account=service_account
    )
    return GuardedWarehouse(managed, policy, foreign=foreign)
