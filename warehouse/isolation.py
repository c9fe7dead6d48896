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

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

if TYPE_CHECKING:
    from warehouse.bigquery import Warehouse

GCS_BUCKET = re.compile(r"\Ags://([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])/")
BUCKET_NAME = re.compile(r"\A[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]\Z")
VIEW_DEPTH = 8
# Kinds that hold their own rows; anything else (views, external tables) reads elsewhere.
PLAIN_TABLES = frozenset({"TABLE", "SNAPSHOT", "CLONE"})
# Statements the platform and tenant queries may be: queries, and writes into a table.
STATEMENTS = (exp.Query, exp.Create, exp.Insert, exp.Merge, exp.Update, exp.Delete, exp.Drop)
WRITES = (exp.Create, exp.Insert, exp.Merge, exp.Update, exp.Delete, exp.Drop)
# Built-in function namespaces that read nothing. Any other qualified call is a routine in a
# dataset (``other_dataset.udf(x)``) or reaches outside the statement's tables: ML.*, AI.*
# (models and connections), OBJ.* (object references to Cloud Storage), KEYS.* (KMS keys).
FUNCTION_NAMESPACES = frozenset({"SAFE", "NET", "HLL_COUNT"})


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
    """What one statement reads and writes, each reference already checked.

    ``reaches`` adds what the views and external tables it reads read in turn (filled in by
    ``GuardedWarehouse.access``), ``uris`` the files it reaches (an external table's, or
    those an external table it creates will read).
    """

    reads: tuple[TableRef, ...]
    writes: tuple[TableRef, ...]
    reaches: tuple[TableRef, ...] = ()
    uris: tuple[str, ...] = ()

    def external(self, project: str) -> bool:
        """True if it reaches anything outside the platform project: a source table of the
        tenant's (named, or behind a view) or a file in a bucket (behind an external table)."""
        refs = (*self.reads, *self.reaches)
        return bool(self.uris) or any(ref.project.lower() != project for ref in refs)


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

    def ref(self, name: str, *, project: str = "") -> TableRef:
        """``table``, ``dataset.table`` or ``project.dataset.table`` as a full reference;
        a two-part name lies in ``project`` (default the platform's)."""
        parts = name.split(".")
        if len(parts) == 1:
            return TableRef(self.project, self.dataset_id, parts[0])
        if len(parts) == 2:
            return TableRef(project or self.project, parts[0], parts[1])
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

    def source_view_access(self, sql: str, *, project: str) -> StatementAccess:
        """What a view in a registered source outside the platform (in ``project``) reads.

        Outside the platform project the reading identity's IAM decides; into it, only the
        tenant's own dataset."""
        return self.statement_access(sql, source_project=project)

    def statement_access(self, sql: str, *, source_project: str = "") -> StatementAccess:
        """Every table the statement reads or writes, checked; AccessRefused otherwise.

        ``source_project``: the statement is the query of a view in that project (outside
        the platform), so two-part names lie there and reads outside the platform project
        are left to the reading identity's IAM."""
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
        _functions_check(tree)
        uris = tuple(self.check_uri(uri, files=False) for uri in _external_uris(tree))
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
            ref = self.ref(".".join(names), project=source_project)
            if id(node) in targets:
                writes.append(self.check_write(ref))
            elif source_project and ref.project.lower() != self.project:
                reads.append(ref)
            else:
                reads.append(self.check_read(ref))
        return StatementAccess(reads=tuple(reads), writes=tuple(writes), uris=uris)

    # -- files -------------------------------------------------------------------

    def check_uri(self, uri: str, *, files: bool = True) -> str:
        """A ``gs://`` URI in a registered bucket, or (``files``) a file inside the tenant's
        folder."""
        if uri.startswith("gs://") or not files:
            return bucket_check(uri, self.buckets)
        root = self.files_root
        if root is None or not Path(uri).resolve().is_relative_to(root.resolve()):
            raise AccessRefused(f"{Path(uri).name}: local files load only from the tenant's folder")
        return uri


def _write_targets(tree: exp.Expression) -> set[int]:
    """The ids of the Table nodes a statement writes to (or drops), in every DML form.

    ``DELETE `p.d.t` WHERE ...`` (no FROM) puts its table in ``tables``, not ``this``.
    """
    targets: set[int] = set()
    for node in tree.find_all(*WRITES):
        for target in (node.this, *(node.args.get("tables") or ())):
            if isinstance(target, exp.Schema):
                target = target.this
            if isinstance(target, exp.Table):
                targets.add(id(target))
    return targets


def _functions_check(tree: exp.Expression) -> None:
    """Refuse routines in a dataset or project, and functions that reach past the tables."""
    for node in tree.find_all(exp.Func):
        text = node.sql("bigquery")[:80]
        parent = node.parent
        if isinstance(parent, exp.Dot) and parent.expression is node:
            qualifier = parent.this
            if not (
                isinstance(qualifier, exp.Identifier)
                and qualifier.name.upper() in FUNCTION_NAMESPACES
            ):
                raise AccessRefused(
                    f"{parent.sql('bigquery')[:80]}: routines in a dataset or project, and "
                    "ML, AI, OBJ and KEYS functions, are not allowed in a run"
                )
        if isinstance(node, exp.Anonymous) and "." in node.name:
            raise AccessRefused(
                f"{text}: routines in a dataset or project are not allowed in a run"
            )
    for kwarg in tree.find_all(exp.Kwarg):
        if kwarg.this.name.lower() in ("connection_id", "endpoint", "model"):
            raise AccessRefused(
                f"{kwarg.sql('bigquery')[:80]}: functions that use a connection or a model "
                "are not allowed in a run"
            )


def _external_uris(tree: exp.Expression) -> list[str]:
    """The ``uris`` option of a ``CREATE EXTERNAL TABLE`` (an external table reads files)."""
    if not isinstance(tree, exp.Create):
        return []
    properties = tree.args.get("properties")
    items = properties.expressions if properties is not None else []
    if not any(isinstance(item, exp.ExternalProperty) for item in items):
        return []
    uris: list[str] = []
    for item in items:
        if isinstance(item, exp.Property) and item.name.lower() == "uris":
            value = item.args.get("value")
            values = value.expressions if isinstance(value, exp.Array) else [value]
            uris += [v.name if isinstance(v, exp.Literal) and v.is_string else "" for v in values]
    if not uris:
        raise AccessRefused("an external table must list its files in OPTIONS(uris=[...])")
    return uris


class GuardedWarehouse:
    """The warehouse as a run sees it: every call's references pass the policy first.

    ``warehouse`` is the adapter the tenant's work acts with: in production
    (``WAREHOUSE_TENANT_IDENTITY``) the tenant's platform-managed service account, granted
    the tenant's dataset only. ``foreign`` gives the adapter for statements that reach
    outside the platform project (a customer's export table or bucket, named or behind a
    view or external table): the tenant's own service account where it stored one. So
    BigQuery's IAM keeps tenants apart as well as this check.
    """

    def __init__(
        self,
        warehouse: Warehouse,
        policy: AccessPolicy,
        *,
        foreign: Callable[[], Warehouse] | None = None,
    ) -> None:
        self._warehouse = warehouse
        self.policy = policy
        self._foreign = foreign

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
        if external and self._foreign is not None:
            return self._foreign()
        return self._warehouse

    def _ref(self, dataset_id: str, table_id: str) -> TableRef:
        return TableRef(self.project, dataset_id, table_id)

    # -- checked calls ---------------------------------------------------------------

    def access(self, sql: str) -> StatementAccess:
        """The statement's checked references, with what its views and external tables reach.

        Table kinds are looked up again for every statement: a table checked as a plain
        table may since have been replaced by a view or an external table.
        """
        access = self.policy.statement_access(sql)
        reaches: list[TableRef] = []
        uris: list[str] = list(access.uris)
        self._views_check(access.reads, reaches, uris, depth=0)
        return dataclasses.replace(access, reaches=tuple(reaches), uris=tuple(uris))

    def _views_check(
        self, reads: Iterable[TableRef], reaches: list[TableRef], uris: list[str], *, depth: int
    ) -> None:
        """A view, materialized view or external table reads other things: check those too.

        Registered sources outside the platform project are looked up as the identity that
        reads them; a view there may not reach into the platform project beyond the
        tenant's own dataset (another tenant's view would otherwise run as whoever reads it).
        """
        for ref in reads:
            if "*" in ref.table:
                continue
            own = self.policy.is_own(ref)
            if own:
                kind = self._warehouse.table_kind(ref.dataset, ref.table)
            else:
                kind = self._acting(True).table_kind(ref.dataset, ref.table, project=ref.project)
            if kind is None or kind.type in PLAIN_TABLES:
                continue
            if kind.type == "EXTERNAL":
                uris += [self.policy.check_uri(uri, files=False) for uri in kind.source_uris]
                continue
            if not kind.query:
                raise AccessRefused(f"{ref}: a {kind.type} whose query cannot be checked")
            if depth >= VIEW_DEPTH:
                raise AccessRefused(f"{ref}: views nested more than {VIEW_DEPTH} deep")
            try:
                inner = (
                    self.policy.statement_access(kind.query)
                    if own
                    else self.policy.source_view_access(kind.query, project=ref.project)
                )
            except AccessRefused as exc:
                raise AccessRefused(f"view {ref} reads what this run may not: {exc}") from None
            reaches += inner.reads
            self._views_check(inner.reads, reaches, uris, depth=depth + 1)

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

    def table_columns(self, dataset_id: str, table_id: str, *, project: str = ""):
        """A table's columns; ``project``: a registered source outside the platform project,
        looked up as the identity that reads it."""
        ref = self.policy.check_read(TableRef(project or self.project, dataset_id, table_id))
        external = not self.policy.is_own(ref)
        return self._acting(external).table_columns(dataset_id, table_id, project=ref.project)

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
