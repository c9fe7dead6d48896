"""The warehouse adapter: the only module that talks to BigQuery (or the local emulator)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import google.auth
from django.conf import settings
from google.api_core import exceptions as google_exceptions
from google.api_core import retry as google_retry
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials, Credentials
from google.cloud import bigquery
from google.cloud.bigquery import client as bigquery_client
from google.cloud.bigquery.format_options import ParquetOptions
from google.oauth2 import service_account

from warehouse.storage import object_head

logger = logging.getLogger(__name__)

#: Bytes per request of a resumable file upload. The client's default, 100 MB, is read
#: into memory whole before it is sent (a 56 MB gzip CUR sat in the worker, and twice over
#: in the emulator that receives it); 8 MiB is the smallest chunk Google recommends for
#: throughput, and a multiple of 256 KiB as the upload protocol requires.
UPLOAD_CHUNK_BYTES = 8 * 1024 * 1024
bigquery_client._DEFAULT_CHUNKSIZE = UPLOAD_CHUNK_BYTES


class WarehouseError(Exception):
    """A warehouse call failed."""


class WarehouseNotFound(WarehouseError):
    """The dataset, table or job does not exist."""


class WarehouseConflict(WarehouseError):
    """The dataset or table already exists."""


class WarehouseBadRequest(WarehouseError):
    """The warehouse refused the request: invalid SQL, schema mismatch, bad row."""


class WarehouseUnavailable(WarehouseError):
    """The warehouse could not be reached or failed transiently; the call may be retried."""


COLUMN_TYPES = frozenset(
    {"STRING", "INT64", "FLOAT64", "NUMERIC", "BIGNUMERIC", "BOOL", "DATE", "DATETIME"}
    | {"TIMESTAMP", "JSON", "BYTES"}
)
#: A nested column as read from a table's schema (a loaded Parquet map, GCP's ``service``):
#: described by name, type and mode, never created (its fields are not kept).
RECORD = "RECORD"
COLUMN_MODES = frozenset({"NULLABLE", "REQUIRED", "REPEATED"})


@dataclass(frozen=True)
class Column:
    """One column of a warehouse table schema."""

    name: str
    type: str
    mode: str = "NULLABLE"
    description: str = ""

    def __post_init__(self) -> None:
        if self.type not in COLUMN_TYPES | {RECORD}:
            raise ValueError(f"Column {self.name!r}: unknown type {self.type!r}")
        if self.mode not in COLUMN_MODES:
            raise ValueError(f"Column {self.name!r}: unknown mode {self.mode!r}")

    def to_bigquery(self) -> bigquery.SchemaField:
        if self.type == RECORD:
            raise ValueError(f"Column {self.name!r}: a RECORD read from a schema has no fields")
        return bigquery.SchemaField(
            self.name, self.type, mode=self.mode, description=self.description or None
        )


@dataclass(frozen=True)
class QueryResult:
    rows: list[dict[str, Any]]
    rows_affected: int | None
    bytes_processed: int
    job_id: str | None


@dataclass(frozen=True)
class TableKind:
    """A table's type (TABLE, VIEW, MATERIALIZED_VIEW, EXTERNAL, SNAPSHOT) and its sources."""

    type: str
    query: str | None = None
    source_uris: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadResult:
    rows_loaded: int
    job_id: str | None


WRITE_DISPOSITIONS = {
    "append": bigquery.WriteDisposition.WRITE_APPEND,
    "overwrite": bigquery.WriteDisposition.WRITE_TRUNCATE,
    "empty": bigquery.WriteDisposition.WRITE_EMPTY,
}

_TRANSIENT = (
    google_exceptions.InternalServerError,
    google_exceptions.BadGateway,
    google_exceptions.ServiceUnavailable,
    google_exceptions.GatewayTimeout,
    google_exceptions.TooManyRequests,
    ConnectionError,
)


def _translate(exc: Exception, what: str) -> WarehouseError:
    """Map a client exception to the project's own, keeping the warehouse's message."""
    message = getattr(exc, "message", None) or str(exc)
    text = f"{what}: {message}"
    if isinstance(exc, google_exceptions.NotFound):
        return WarehouseNotFound(text)
    if isinstance(exc, google_exceptions.Conflict):
        return WarehouseConflict(text)
    if isinstance(exc, google_exceptions.BadRequest | google_exceptions.Forbidden):
        return WarehouseBadRequest(text)
    if isinstance(exc, WarehouseError):
        return exc
    return WarehouseUnavailable(text)


def _query_parameter(name: str, value: Any) -> bigquery.ScalarQueryParameter:
    """A named query parameter typed from its Python value."""
    if isinstance(value, list | tuple):
        if not value:
            raise WarehouseBadRequest(f"Query parameter @{name}: empty arrays have no type")
        element = _query_parameter(name, value[0])
        return bigquery.ArrayQueryParameter(name, element.type_, list(value))
    if isinstance(value, bool):
        kind = "BOOL"
    elif isinstance(value, int):
        kind = "INT64"
    elif isinstance(value, float):
        kind = "FLOAT64"
    elif isinstance(value, decimal.Decimal):
        kind = "NUMERIC"
    elif isinstance(value, dt.datetime):
        kind = "TIMESTAMP"
    elif isinstance(value, dt.date):
        kind = "DATE"
    elif isinstance(value, str) or value is None:
        kind = "STRING"
    else:
        raise WarehouseBadRequest(
            f"Query parameter @{name}: unsupported type {type(value).__name__}"
        )
    return bigquery.ScalarQueryParameter(name, kind, value)


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


class Warehouse:
    """BigQuery through the real client; settings decide the endpoint and project."""

    def __init__(
        self,
        *,
        project: str,
        endpoint: str = "",
        location: str = "US",
        timeout: float = 60.0,
        retry_seconds: float = 30.0,
        credentials: Credentials | None = None,
        job_project: str = "",
    ) -> None:
        """``project`` holds the tenant datasets; jobs run in ``job_project`` (default the same).

        ``credentials`` act as someone other than the platform (a tenant's service account);
        by default the platform's own (application default, or none for the emulator).
        """
        self.project = project
        self.location = location
        self.timeout = timeout
        self.credentials = credentials
        self.emulated = bool(endpoint)
        options = ClientOptions(api_endpoint=endpoint) if endpoint else None
        if credentials is None:
            credentials = platform_credentials(endpoint)
        self._client = bigquery.Client(
            project=job_project or project,
            credentials=credentials,
            client_options=options,
            location=location,
        )
        # Retry transient failures, but never for minutes: the emulator answers a bad
        # streamed row with a 500 that the client's default retry would repeat at length.
        self._retry = google_retry.Retry(
            predicate=google_retry.if_exception_type(*_TRANSIENT),
            initial=0.2,
            maximum=2.0,
            timeout=min(timeout, retry_seconds),
        )

    # -- naming ------------------------------------------------------------------

    def table_ref(self, dataset_id: str, table_id: str) -> str:
        return f"{self.project}.{dataset_id}.{table_id}"

    def quoted(self, dataset_id: str, table_id: str) -> str:
        """A fully qualified, backtick-quoted table name for SQL text."""
        return f"`{self.table_ref(dataset_id, table_id)}`"

    # -- datasets ----------------------------------------------------------------

    def dataset_create(
        self, dataset_id: str, *, exists_ok: bool = True, labels: Mapping[str, str] | None = None
    ) -> None:
        dataset = bigquery.Dataset(f"{self.project}.{dataset_id}")
        dataset.location = self.location
        if labels:
            dataset.labels = dict(labels)
        try:
            self._client.create_dataset(
                dataset, exists_ok=exists_ok, retry=self._retry, timeout=self.timeout
            )
        except Exception as exc:
            raise _translate(exc, f"create dataset {dataset_id}") from exc

    def dataset_delete(self, dataset_id: str, *, not_found_ok: bool = True) -> None:
        try:
            self._client.delete_dataset(
                f"{self.project}.{dataset_id}",
                delete_contents=True,
                not_found_ok=not_found_ok,
                retry=self._retry,
                timeout=self.timeout,
            )
        except Exception as exc:
            raise _translate(exc, f"delete dataset {dataset_id}") from exc

    def dataset_exists(self, dataset_id: str) -> bool:
        try:
            self._client.get_dataset(
                f"{self.project}.{dataset_id}", retry=self._retry, timeout=self.timeout
            )
        except google_exceptions.NotFound:
            return False
        except Exception as exc:
            raise _translate(exc, f"get dataset {dataset_id}") from exc
        return True

    # -- tables and views --------------------------------------------------------

    def table_create(
        self,
        dataset_id: str,
        table_id: str,
        columns: Sequence[Column],
        *,
        exists_ok: bool = True,
        replace: bool = False,
        description: str = "",
        partition_day: str = "",
        cluster_by: Sequence[str] = (),
    ) -> None:
        """Create a table; ``partition_day`` partitions it by that TIMESTAMP or DATE column's
        day, ``cluster_by`` clusters it by up to four columns (as BigQuery's
        ``PARTITION BY DATE(col) CLUSTER BY a, b``)."""
        table = bigquery.Table(
            self.table_ref(dataset_id, table_id), schema=[c.to_bigquery() for c in columns]
        )
        if description:
            table.description = description
        if partition_day:
            table.time_partitioning = bigquery.TimePartitioning(
                type_=bigquery.TimePartitioningType.DAY, field=partition_day
            )
        if cluster_by:
            table.clustering_fields = list(cluster_by)
        if replace:
            self.table_delete(dataset_id, table_id)
        try:
            self._client.create_table(
                table, exists_ok=exists_ok, retry=self._retry, timeout=self.timeout
            )
        except Exception as exc:
            raise _translate(exc, f"create table {dataset_id}.{table_id}") from exc

    def table_delete(self, dataset_id: str, table_id: str, *, not_found_ok: bool = True) -> None:
        try:
            self._client.delete_table(
                self.table_ref(dataset_id, table_id),
                not_found_ok=not_found_ok,
                retry=self._retry,
                timeout=self.timeout,
            )
        except Exception as exc:
            raise _translate(exc, f"delete table {dataset_id}.{table_id}") from exc

    def table_exists(self, dataset_id: str, table_id: str) -> bool:
        try:
            self._client.get_table(
                self.table_ref(dataset_id, table_id), retry=self._retry, timeout=self.timeout
            )
        except google_exceptions.NotFound:
            return False
        except Exception as exc:
            raise _translate(exc, f"get table {dataset_id}.{table_id}") from exc
        return True

    def table_columns(self, dataset_id: str, table_id: str, *, project: str = "") -> list[Column]:
        """A table's top-level columns (a nested one as RECORD, without its fields).

        ``project``: a table outside the platform project (a tenant's registered source)."""
        try:
            table = self._client.get_table(
                f"{project or self.project}.{dataset_id}.{table_id}",
                retry=self._retry,
                timeout=self.timeout,
            )
        except Exception as exc:
            raise _translate(exc, f"get table {dataset_id}.{table_id}") from exc
        return [
            Column(f.name, _standard_type(f.field_type), f.mode or "NULLABLE") for f in table.schema
        ]

    def table_layout(self, dataset_id: str, table_id: str) -> tuple[str | None, list[str]]:
        """The column a table is partitioned on by day (None if not) and its clustering."""
        try:
            table = self._client.get_table(
                self.table_ref(dataset_id, table_id), retry=self._retry, timeout=self.timeout
            )
        except Exception as exc:
            raise _translate(exc, f"get table {dataset_id}.{table_id}") from exc
        partitioning = table.time_partitioning
        return (partitioning.field if partitioning else None), list(table.clustering_fields or [])

    def tables_list(self, dataset_id: str) -> list[str]:
        try:
            tables = self._client.list_tables(
                f"{self.project}.{dataset_id}", retry=self._retry, timeout=self.timeout
            )
            return sorted(t.table_id for t in tables)
        except Exception as exc:
            raise _translate(exc, f"list tables of {dataset_id}") from exc

    def table_kind(self, dataset_id: str, table_id: str, *, project: str = "") -> TableKind | None:
        """What a name is (table, view, external table ...) and what it reads; None if absent.

        ``project``: a table outside the platform project (a tenant's registered source)."""
        try:
            table = self._client.get_table(
                f"{project or self.project}.{dataset_id}.{table_id}",
                retry=self._retry,
                timeout=self.timeout,
            )
        except google_exceptions.NotFound:
            return None
        except Exception as exc:
            raise _translate(exc, f"get table {dataset_id}.{table_id}") from exc
        external = table.external_data_configuration
        return TableKind(
            type=table.table_type or "TABLE",
            query=table.view_query or table.mview_query,
            source_uris=tuple(external.source_uris or ()) if external is not None else (),
        )

    def dataset_grant_writer(self, dataset_id: str, service_account_email: str) -> bool:
        """Let one service account write this dataset (and only it); True if newly granted."""
        try:
            dataset = self._client.get_dataset(
                f"{self.project}.{dataset_id}", retry=self._retry, timeout=self.timeout
            )
            entry = bigquery.AccessEntry("WRITER", "userByEmail", service_account_email)
            if any(
                e.role == entry.role and e.entity_id == entry.entity_id
                for e in dataset.access_entries
            ):
                return False
            dataset.access_entries = [*dataset.access_entries, entry]
            self._client.update_dataset(
                dataset, ["access_entries"], retry=self._retry, timeout=self.timeout
            )
        except Exception as exc:
            raise _translate(exc, f"grant on dataset {dataset_id}") from exc
        return True

    def view_create(self, dataset_id: str, view_id: str, sql: str, *, replace: bool = True) -> None:
        view = bigquery.Table(self.table_ref(dataset_id, view_id))
        view.view_query = sql
        try:
            if replace:
                self._client.delete_table(
                    view.reference, not_found_ok=True, retry=self._retry, timeout=self.timeout
                )
            self._client.create_table(view, retry=self._retry, timeout=self.timeout)
        except Exception as exc:
            raise _translate(exc, f"create view {dataset_id}.{view_id}") from exc

    # -- queries -----------------------------------------------------------------

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> QueryResult:
        """Run one statement; values travel as named query parameters, never as SQL text."""
        config = bigquery.QueryJobConfig(
            query_parameters=[_query_parameter(k, v) for k, v in (params or {}).items()]
        )
        try:
            # The client's own job retry and result polling default to ten minutes; a down
            # warehouse must fail within the retry budget instead.
            job = self._client.query(
                sql, job_config=config, retry=self._retry, job_retry=None, timeout=self.timeout
            )
            rows = [
                dict(row.items()) for row in job.result(retry=self._retry, timeout=self.timeout)
            ]
        except WarehouseError:
            raise
        except Exception as exc:
            raise _translate(exc, "query") from exc
        return QueryResult(
            rows=rows,
            rows_affected=job.num_dml_affected_rows,
            bytes_processed=job.total_bytes_processed or 0,
            job_id=job.job_id,
        )

    def query_pages(
        self, sql: str, params: Mapping[str, Any] | None = None, *, page_size: int = 10_000
    ) -> Iterator[list[dict[str, Any]]]:
        """Run one query to its end, then its rows a page at a time (an export's rows are
        never all in memory). The job's errors are raised here, before the first page."""
        config = bigquery.QueryJobConfig(
            query_parameters=[_query_parameter(k, v) for k, v in (params or {}).items()]
        )
        try:
            job = self._client.query(
                sql, job_config=config, retry=self._retry, job_retry=None, timeout=self.timeout
            )
            rows = job.result(retry=self._retry, timeout=self.timeout, page_size=page_size)
        except Exception as exc:
            raise _translate(exc, "query") from exc
        return self._pages(rows)

    @staticmethod
    def _pages(rows) -> Iterator[list[dict[str, Any]]]:
        try:
            for page in rows.pages:
                yield [dict(row.items()) for row in page]
        except Exception as exc:
            raise _translate(exc, "query") from exc

    # -- loading -----------------------------------------------------------------

    def load_file(
        self,
        source: str | Path,
        dataset_id: str,
        table_id: str,
        *,
        source_format: str = "CSV",
        columns: Sequence[Column] | None = None,
        write_mode: str = "append",
        skip_leading_rows: int = 1,
    ) -> LoadResult:
        """Load a local file (CSV, gzip CSV or Parquet) or a ``gs://`` URI into a table."""
        if write_mode not in WRITE_DISPOSITIONS:
            raise WarehouseBadRequest(f"Unknown write mode {write_mode!r}")
        config = bigquery.LoadJobConfig(
            source_format=source_format,
            write_disposition=WRITE_DISPOSITIONS[write_mode],
        )
        if source_format == "CSV":
            config.skip_leading_rows = skip_leading_rows
            config.allow_quoted_newlines = True
        elif source_format == "PARQUET":
            # A Parquet MAP (CUR 2.0's resource_tags, product) as a repeated key/value
            # record, rather than BigQuery's default wrapper record around one.
            parquet = ParquetOptions()
            parquet.map_target_type = "ARRAY_OF_STRUCT"
            config.parquet_options = parquet
        if columns:
            config.schema = [c.to_bigquery() for c in columns]
        else:
            config.autodetect = True
        destination = self.table_ref(dataset_id, table_id)
        if self.emulated and write_mode == "overwrite":
            # The emulator's WRITE_TRUNCATE keeps the old table's schema and then fails to read
            # a file of other columns (an explicit schema's or a Parquet file's own); BigQuery
            # replaces the schema. Same result either way.
            self.table_delete(dataset_id, table_id)
        try:
            if str(source).startswith("gs://"):
                job = self._client.load_table_from_uri(
                    str(source), destination, job_config=config, timeout=self.timeout
                )
            else:
                # The file's own bytes, gzip included (BigQuery reads gzip CSV, and so does
                # the emulator with its fix): a gzip CSV uploads at a fraction of its size.
                # With the size known the client streams it in chunks of
                # UPLOAD_CHUNK_BYTES (a resumable upload), so no file is held in memory whole.
                with open(source, "rb") as handle:
                    job = self._client.load_table_from_file(
                        handle,
                        destination,
                        job_config=config,
                        size=os.fstat(handle.fileno()).st_size,
                        timeout=self.timeout,
                    )
            job.result(retry=self._retry, timeout=self.timeout)
        except FileNotFoundError as exc:
            raise WarehouseNotFound(f"load {destination}: no such file {source}") from exc
        except Exception as exc:
            raise _translate(exc, f"load {destination}") from exc
        return LoadResult(rows_loaded=job.output_rows or 0, job_id=job.job_id)

    def file_head(self, uri: str) -> bytes:
        """The first bytes of a ``gs://`` object, read as this warehouse's identity."""

        return object_head(uri, credentials=self.credentials)

    def insert_rows(self, dataset_id: str, table_id: str, rows: Iterable[Mapping[str, Any]]) -> int:
        """Stream rows into a table after checking them against its schema.

        Rows are validated here first because a malformed row makes the emulator answer
        500, which the client would otherwise retry as if it were transient.
        """
        rows = [dict(r) for r in rows]
        if not rows:
            return 0
        columns = {c.name: c for c in self.table_columns(dataset_id, table_id)}
        for index, row in enumerate(rows):
            unknown = sorted(set(row) - set(columns))
            if unknown:
                raise WarehouseBadRequest(
                    f"insert into {dataset_id}.{table_id}: row {index} has unknown "
                    f"columns {', '.join(unknown)}"
                )
            missing = sorted(
                name
                for name, c in columns.items()
                if c.mode == "REQUIRED" and row.get(name) is None
            )
            if missing:
                raise WarehouseBadRequest(
                    f"insert into {dataset_id}.{table_id}: row {index} lacks required "
                    f"columns {', '.join(missing)}"
                )
            for name, value in row.items():
                if columns[name].type == "JSON" and not isinstance(value, str | type(None)):
                    row[name] = json.dumps(value, default=str)
                else:
                    row[name] = _json_value(value)
        try:
            errors = self._client.insert_rows_json(
                self.table_ref(dataset_id, table_id),
                rows,
                retry=self._retry,
                timeout=self.timeout,
            )
        except Exception as exc:
            raise _translate(exc, f"insert into {dataset_id}.{table_id}") from exc
        if errors:
            raise WarehouseBadRequest(f"insert into {dataset_id}.{table_id}: {errors[:3]}")
        return len(rows)

    def table_rows(self, dataset_id: str, table_id: str) -> tuple[list[Column], list[dict]]:
        """A table's schema and every row (for exports of tenant-sized tables)."""
        columns = self.table_columns(dataset_id, table_id)
        try:
            rows = self._client.list_rows(
                self.table_ref(dataset_id, table_id), retry=self._retry, timeout=self.timeout
            )
            return columns, [dict(row.items()) for row in rows]
        except Exception as exc:
            raise _translate(exc, f"read table {dataset_id}.{table_id}") from exc

    # -- health ------------------------------------------------------------------

    def ping(self) -> None:
        """Raise WarehouseUnavailable unless a trivial query runs."""
        quick = google_retry.Retry(
            predicate=google_retry.if_exception_type(*_TRANSIENT), initial=0.2, timeout=3.0
        )
        try:
            job = self._client.query("SELECT 1", retry=quick, job_retry=None, timeout=3)
            job.result(retry=quick, timeout=3)
        except Exception as exc:
            raise WarehouseUnavailable(f"warehouse unreachable: {type(exc).__name__}") from exc


_STANDARD_TYPES = {
    "STRUCT": "RECORD",
    "INTEGER": "INT64",
    "FLOAT": "FLOAT64",
    "BOOLEAN": "BOOL",
    "BIGDECIMAL": "BIGNUMERIC",
}


def _standard_type(field_type: str) -> str:
    return _STANDARD_TYPES.get(field_type, field_type)


_lock = threading.Lock()
_instances: dict[tuple, Warehouse] = {}


def get_warehouse() -> Warehouse:
    """The warehouse for the current settings; one client per process and configuration."""
    key = (
        settings.WAREHOUSE_PROJECT,
        settings.WAREHOUSE_ENDPOINT,
        settings.WAREHOUSE_LOCATION,
        settings.WAREHOUSE_TIMEOUT_SECONDS,
        settings.WAREHOUSE_RETRY_SECONDS,
        settings.WAREHOUSE_CREDENTIALS_FILE,
    )
    with _lock:
        if key not in _instances:
            _instances[key] = Warehouse(
                project=key[0],
                endpoint=key[1],
                location=key[2],
                timeout=key[3],
                retry_seconds=key[4],
            )
        return _instances[key]


BIGQUERY_SCOPES = ("https://www.googleapis.com/auth/bigquery",)
PLATFORM_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


def platform_credentials(endpoint: str | None = None) -> Credentials:
    """The platform's own identity, for control-plane work only (datasets, grants, run logs,
    tenants' service accounts): the key file ``WAREHOUSE_CREDENTIALS_FILE`` if set, else
    application-default credentials; anonymous for a BigQuery-compatible server without one
    (the local emulator has no IAM)."""
    path = settings.WAREHOUSE_CREDENTIALS_FILE
    if path:
        return service_account.Credentials.from_service_account_file(path, scopes=PLATFORM_SCOPES)
    if settings.WAREHOUSE_ENDPOINT if endpoint is None else endpoint:
        return AnonymousCredentials()
    credentials, _ = google.auth.default(scopes=PLATFORM_SCOPES)
    return credentials


def warehouse_acting_as(credentials: Credentials, *, job_project: str) -> Warehouse:
    """The warehouse of the current settings acting as someone other than the platform (a
    tenant's account); its jobs run, and are billed, in ``job_project``."""
    return Warehouse(
        project=settings.WAREHOUSE_PROJECT,
        endpoint=settings.WAREHOUSE_ENDPOINT,
        location=settings.WAREHOUSE_LOCATION,
        timeout=settings.WAREHOUSE_TIMEOUT_SECONDS,
        retry_seconds=settings.WAREHOUSE_RETRY_SECONDS,
        credentials=credentials,
        job_project=job_project,
    )


def warehouse_as_service_account(info: Mapping[str, Any]) -> Warehouse:
    """The warehouse acting as a tenant's own service account (its key, from the credential
    store): jobs run in the tenant's project and see only what the tenant granted it."""
    credentials = service_account.Credentials.from_service_account_info(
        dict(info), scopes=BIGQUERY_SCOPES
    )
    return warehouse_acting_as(credentials, job_project=info["project_id"])


def tenant_dataset_id(tenant_id: str) -> str:
    """The dataset that holds one tenant's data: ``{tenant_id}_{env}``."""
    return f"{tenant_id}_{settings.WAREHOUSE_ENV}"
