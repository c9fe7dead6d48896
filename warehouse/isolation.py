"""The tenant data path's one check: every table, view, dataset and file a run touches.

A run may write only into its tenant's dataset. It may read its tenant's dataset and the
source tables the tenant registered in its provider config, if they lie outside the
platform's project (which holds every tenant's dataset and the platform's own). Files come
from the tenant's own local imports folder or from a ``gs://`` bucket registered in the
provider config. References are taken from the final SQL text, parsed with sqlglot's
BigQuery dialect, so a tenant-written query is held to the same rule as a placeholder.

``GuardedWarehouse`` is the warehouse every step gets: each call passes the policy before
the real adapter is asked anything, and reads outside the platform project go out with the
tenant's own identity where ``WAREHOUSE_TENANT_IDENTITY`` is on (production).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

if TYPE_CHECKING:
    from warehouse.bigquery import TableKind, Warehouse

GCS_BUCKET = re.compile(r"\Ags://([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])/")
BUCKET_NAME = re.compile(r"\A[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]\Z")
VIEW_DEPTH = 8
# Kinds that hold their own rows; anything else (views, external tables) reads elsewhere.
PLAIN_TABLES = frozenset({"TABLE", "SNAPSHOT", "CLONE"})
# Statements the platform and tenant queries may be: queries, and writes into a table.
STATEMENTS = (exp.Query, exp.Create, exp.Insert, exp.Merge, exp.Update, exp.Delete, exp.Drop)


class AccessRefused(ValueError):
    """A step named a table, dataset or file outside what its tenant may touch."""


@dataclass(frozen=True)
class TableRef:
    project: str
    dataset: str
    table: str

    def __str__(self) -> str:
        return f"{self.project}.{self.dataset}.{self.table}"


@dataclass(frozen=True)
class StatementAccess:
    """What one statement reads and writes, each reference already checked."""

    reads: tuple[TableRef, ...]
    writes: tuple[TableRef, ...]

    def external(self, project: str) -> bool:
        """True if it reads a source outside the platform project (the tenant's own)."""
        return any(ref.project.lower() != project for ref in self.reads)


def _bucket_items(value: object) -> list[str]:
    """The entries of a ``source_buckets`` setting (a list, or comma/space separated text)."""
    if isinstance(value, str):
        items: Iterable[Any] = re.split(r"[\s,]+", value)
    elif isinstance(value, list | tuple):
        items = value
    else:
        return []
    names = (str(item).strip().removeprefix("gs://").rstrip("/") for item in items)
    return [name for name in names if name]


def bucket_names(value: object) -> frozenset[str]:
    """The valid bucket names of a ``source_buckets`` setting."""
    return frozenset(n for n in _bucket_items(value) if BUCKET_NAME.match(n))


def bucket_names_invalid(value: object) -> list[str]:
    """The entries of a ``source_buckets`` setting that are not bucket names."""
    return [n for n in _bucket_items(value) if not BUCKET_NAME.match(n)]


def bucket_check(uri: str, buckets: frozenset[str]) -> str:
    """The ``gs://`` URI if its bucket is one of ``buckets``; AccessRefused if not."""
    match = GCS_BUCKET.match(uri)
    if match is None or match.group(1) not in buckets:
        bucket = match.group(1) if match else uri
        raise AccessRefused(
            f"gs://{bucket}: files load only from buckets registered in the "
            "tenant's provider config (settings.source_buckets)"
        )
    return uri


@dataclass(frozen=True)
class AccessPolicy:
    """What one tenant's run may touch."""

    project: str
    tenant_id: str
    dataset_id: str
    sources: frozenset[str] = frozenset()
    buckets: frozenset[str] = frozenset()
    files_root: Path | None = None

    # -- tables ------------------------------------------------------------------

    def ref(self, name: str) -> TableRef:
        """``table``, ``dataset.table`` or ``project.dataset.table`` as a full reference."""
        parts = name.split(".")
        if len(parts) == 1:
            return TableRef(self.project, self.dataset_id, parts[0])
        if len(parts) == 2:
            return TableRef(self.project, parts[0], parts[1])
        if len(parts) == 3:
            return TableRef(*parts)
        raise AccessRefused(f"{name!r} is not a table reference (at most project.dataset.table)")

    def is_own(self, ref: TableRef) -> bool:
        return ref.project.lower() == self.project and ref.dataset == self.dataset_id

    def check_write(self, ref: TableRef) -> TableRef:
        if not self.is_own(ref):
            raise AccessRefused(
                f"{ref}: a run may write only into its tenant's dataset {self.dataset_id!r}"
            )
        return ref

    def check_read(self, ref: TableRef) -> TableRef:
        if self.is_own(ref):
            return ref
        if "information_schema" in str(ref).lower():
            raise AccessRefused(f"{ref}: INFORMATION_SCHEMA views are not readable by a run")
        if ref.project.lower() == self.project:
            raise AccessRefused(
                f"{ref}: a run may read only its tenant's dataset {self.dataset_id!r} in "
                f"project {self.project!r}; other datasets there are not the tenant's"
            )
        if str(ref) not in self.sources:
            raise AccessRefused(
                f"{ref}: a run may read outside its dataset only the source tables "
                "registered in the tenant's provider config"
            )
        return ref

    # -- statements --------------------------------------------------------------

    def statement_access(self, sql: str) -> StatementAccess:
        """Every table the statement reads or writes, checked; AccessRefused otherwise."""
        try:
            statements = [s for s in sqlglot.parse(sql, read="bigquery") if s is not None]
        except SqlglotError as exc:
            raise AccessRefused(f"the statement could not be parsed to check it: {exc}") from None
        if len(statements) != 1:
            raise AccessRefused("one SQL statement per query")
        tree = statements[0]
        if not isinstance(tree, STATEMENTS) or (
            isinstance(tree, exp.Create | exp.Drop)
            and str(tree.args.get("kind", "")).upper() not in ("TABLE", "VIEW")
        ):
            raise AccessRefused(f"{type(tree).__name__} statements are not allowed in a run")
        targets = _write_targets(tree)
        ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        reads, writes = [], []
        for node in tree.find_all(exp.Table):
            if not isinstance(node.this, exp.Identifier):
                raise AccessRefused(
                    f"table functions are not allowed in a run: {node.sql('bigquery')[:80]}"
                )
            names = [part.name for part in node.parts]
            if len(names) == 1 and names[0].lower() in ctes and id(node) not in targets:
                continue
            if len(names) == 1:
                raise AccessRefused(
                    f"{names[0]!r}: name tables as dataset.table or project.dataset.table"
                )
            ref = self.ref(".".join(names))
            if id(node) in targets:
                writes.append(self.check_write(ref))
            else:
                reads.append(self.check_read(ref))
        return StatementAccess(reads=tuple(reads), writes=tuple(writes))

    # -- files -------------------------------------------------------------------

    def check_uri(self, uri: str) -> str:
        """A ``gs://`` URI in a registered bucket, or a file inside the tenant's folder."""
        if uri.startswith("gs://"):
            return bucket_check(uri, self.buckets)
        root = self.files_root
        if root is None or not Path(uri).resolve().is_relative_to(root.resolve()):
            raise AccessRefused(f"{Path(uri).name}: local files load only from the tenant's folder")
        return uri


def _write_targets(tree: exp.Expression) -> set[int]:
    """The ids of the Table nodes a statement writes to (or drops)."""
    targets: set[int] = set()
    for node in tree.find_all(exp.Create, exp.Insert, exp.Merge, exp.Update, exp.Delete, exp.Drop):
        target = node.this
        if isinstance(target, exp.Schema):
            target = target.this
        if isinstance(target, exp.Table):
            targets.add(id(target))
    return targets


class GuardedWarehouse:
    """The warehouse as a run sees it: every call's references pass the policy first.

    ``tenant_warehouse`` gives the adapter that acts with the tenant's own identity; it is
    used for anything outside the platform project (a customer's export table or bucket),
    so BigQuery's IAM keeps tenants apart as well as this check.
    """

    def __init__(
        self,
        warehouse: Warehouse,
        policy: AccessPolicy,
        *,
        tenant_warehouse: Callable[[], Warehouse] | None = None,
    ) -> None:
        self._warehouse = warehouse
        self.policy = policy
        self._tenant_warehouse = tenant_warehouse
        self._kinds: dict[TableRef, TableKind | None] = {}

    @property
    def project(self) -> str:
        return self._warehouse.project

    @property
    def dataset_id(self) -> str:
        """The tenant's own dataset."""
        return self.policy.dataset_id

    def table_ref(self, dataset_id: str, table_id: str) -> str:
        return self._warehouse.table_ref(dataset_id, table_id)

    def quoted(self, dataset_id: str, table_id: str) -> str:
        return self._warehouse.quoted(dataset_id, table_id)

    def _acting(self, external: bool) -> Warehouse:
        if external and self._tenant_warehouse is not None:
            return self._tenant_warehouse()
        return self._warehouse

    def _ref(self, dataset_id: str, table_id: str) -> TableRef:
        return TableRef(self.project, dataset_id, table_id)

    # -- checked calls ---------------------------------------------------------------

    def access(self, sql: str) -> StatementAccess:
        """The statement's checked references, views in the tenant's dataset expanded."""
        access = self.policy.statement_access(sql)
        self._views_check(access.reads, depth=0)
        return access

    def _views_check(self, reads: Iterable[TableRef], *, depth: int) -> None:
        """A view, materialized view or external table reads other things: check those too."""
        for ref in reads:
            if not self.policy.is_own(ref) or "*" in ref.table:
                continue
            if ref not in self._kinds:
                self._kinds[ref] = self._warehouse.table_kind(ref.dataset, ref.table)
            kind = self._kinds[ref]
            if kind is None or kind.type in PLAIN_TABLES:
                continue
            if kind.type == "EXTERNAL":
                for uri in kind.source_uris:
                    self.policy.check_uri(uri)
                continue
            if not kind.query:
                raise AccessRefused(f"{ref}: a {kind.type} whose query cannot be checked")
            if depth >= VIEW_DEPTH:
                raise AccessRefused(f"{ref}: views nested more than {VIEW_DEPTH} deep")
            try:
                inner = self.policy.statement_access(kind.query)
            except AccessRefused as exc:
                raise AccessRefused(f"view {ref} reads what this run may not: {exc}") from None
            self._views_check(inner.reads, depth=depth + 1)

    def query(self, sql: str, params: Mapping[str, Any] | None = None):
        access = self.access(sql)
        return self._acting(access.external(self.project)).query(sql, params)

    def query_pages(self, sql: str, params: Mapping[str, Any] | None = None, **options):
        access = self.access(sql)
        return self._acting(access.external(self.project)).query_pages(sql, params, **options)

    def load_file(self, source, dataset_id: str, table_id: str, **options):
        self.policy.check_write(self._ref(dataset_id, table_id))
        uri = self.policy.check_uri(str(source))
        return self._acting(uri.startswith("gs://")).load_file(
            source, dataset_id, table_id, **options
        )

    def file_head(self, uri: str) -> bytes:
        """The first bytes of a file in a registered bucket, read as the tenant."""
        return self._acting(True).file_head(self.policy.check_uri(uri))

    def table_columns(self, dataset_id: str, table_id: str):
        self.policy.check_read(self._ref(dataset_id, table_id))
        return self._warehouse.table_columns(dataset_id, table_id)

    def table_exists(self, dataset_id: str, table_id: str) -> bool:
        self.policy.check_read(self._ref(dataset_id, table_id))
        return self._warehouse.table_exists(dataset_id, table_id)

    def tables_list(self, dataset_id: str) -> list[str]:
        self.policy.check_read(self._ref(dataset_id, "_"))
        return self._warehouse.tables_list(dataset_id)

    def table_create(self, dataset_id: str, table_id: str, columns, **options) -> None:
        self.policy.check_write(self._ref(dataset_id, table_id))
        self._warehouse.table_create(dataset_id, table_id, columns, **options)

    def insert_rows(self, dataset_id: str, table_id: str, rows) -> int:
        self.policy.check_write(self._ref(dataset_id, table_id))
        return self._warehouse.insert_rows(dataset_id, table_id, rows)

    def table_delete(self, dataset_id: str, table_id: str) -> None:
        self.policy.check_write(self._ref(dataset_id, table_id))
        self._warehouse.table_delete(dataset_id, table_id)
