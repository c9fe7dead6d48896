"""Tenant datasets in the warehouse: provision them with their log tables and view, or drop them."""

import logging
from dataclasses import dataclass

from django.conf import settings

from warehouse.bigquery import get_warehouse, tenant_dataset_id
from warehouse.identity import tenant_identity_provision
from warehouse.tables import (
    COMPREHENSIVE_VIEW,
    DQ_RESULTS,
    META_TABLES,
    PIPELINE_RUNS,
    STEP_LOGS,
    comprehensive_view_sql,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetProvisioned:
    dataset_id: str
    created: bool
    tables: tuple[str, ...]


def tenant_dataset_provision(
    *,
    tenant_id: str,
    force_recreate_dataset: bool = False,
    force_recreate_tables: bool = False,
) -> DatasetProvisioned:
    """Create the tenant's dataset, log tables and view, and (``WAREHOUSE_TENANT_IDENTITY``)
    the tenant's service account granted that dataset only; on failure remove the dataset
    and tables this call made (an account made stays, and a retry reuses it).

    ``force_recreate_dataset`` drops the dataset with all its tables first;
    ``force_recreate_tables`` drops and recreates only the log tables and the view.
    """
    warehouse = get_warehouse()
    dataset_id = tenant_dataset_id(tenant_id)
    existed = warehouse.dataset_exists(dataset_id)
    if existed and force_recreate_dataset:
        warehouse.dataset_delete(dataset_id)
        existed = False
    created_tables: list[str] = []
    try:
        warehouse.dataset_create(dataset_id, labels={"tenant": tenant_id})
        for table_id, columns in META_TABLES.items():
            if not warehouse.table_exists(dataset_id, table_id) or force_recreate_tables:
                warehouse.table_create(dataset_id, table_id, columns, replace=True)
                created_tables.append(table_id)
        warehouse.view_create(
            dataset_id,
            COMPREHENSIVE_VIEW,
            comprehensive_view_sql(
                warehouse.quoted(dataset_id, PIPELINE_RUNS),
                warehouse.quoted(dataset_id, STEP_LOGS),
                warehouse.quoted(dataset_id, DQ_RESULTS),
            ),
        )
        if settings.WAREHOUSE_TENANT_IDENTITY:
            tenant_identity_provision(tenant_id=tenant_id, dataset_id=dataset_id)
    except Exception:
        logger.exception("provisioning dataset %s failed; removing what was created", dataset_id)
        if existed:
            for table_id in created_tables:
                warehouse.table_delete(dataset_id, table_id)
        else:
            warehouse.dataset_delete(dataset_id)
        raise
    return DatasetProvisioned(
        dataset_id=dataset_id, created=not existed, tables=(*META_TABLES, COMPREHENSIVE_VIEW)
    )
