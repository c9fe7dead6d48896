"""Files a tenant's run may load: CSV or Parquet (gzip allowed) from the tenant's own local
imports folder or a registered ``gs://`` bucket, checked before anything reads them."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
from collections.abc import Callable
from pathlib import Path

import pyarrow
import pyarrow.parquet
from django.conf import settings

from warehouse.bigquery import Column
from warehouse.isolation import AccessRefused
from warehouse.isolation import bucket_check as isolation_bucket_check
from warehouse.sql_identifiers import PlaceholderError, name_check
from warehouse.storage import StorageError, object_head

FORMATS = {"csv": "CSV", "parquet": "PARQUET"}
#: ``format: auto`` picks the format from the file's name: CUR 2.0 and Azure exports come as
#: CSV or Parquet, and each loads as what it is (Parquet keeps its own column types).
AUTO = "auto"
LOCAL_SUFFIXES = (".csv", ".csv.gz", ".parquet")
GCS_URI = re.compile(r"\Ags://[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]/[A-Za-z0-9._/=-]{1,1024}\Z")


class FileSourceError(ValueError):
    """A file source is not a gs:// URI or a file inside the allowed local directory."""


def local_files_dir() -> Path:
    """The only directory local loads may read from; read at call time."""
    default = Path(getattr(settings, "VAR_DIR", settings.BASE_DIR / "var")) / "imports"
    return Path(getattr(settings, "PIPELINE_LOCAL_FILES_DIR", default))


def tenant_files_root(tenant_id: str | None) -> Path:
    """The folder local files load from: the tenant's own, or (no tenant) the whole root."""
    root = local_files_dir()
    if tenant_id is not None:
        try:
            root = root / name_check("tenant_id", tenant_id)
        except PlaceholderError as exc:
            raise FileSourceError(str(exc)) from exc
    return root.resolve()


def file_source_check(value: object, *, tenant_id: str | None = None) -> str:
    """The source if it is a safe gs:// URI or a CSV/Parquet file under the local imports dir.

    Local paths are resolved (symlinks included) before the check, so ``..`` or a link
    cannot reach a file outside the directory a tenant is allowed to load from: with
    ``tenant_id``, that is the tenant's own folder ``{imports}/{tenant_id}/``.
    """
    if not isinstance(value, str) or not value or "\x00" in value:
        raise FileSourceError("file source must be a non-empty string")
    if value.startswith("gs://"):
        if not GCS_URI.match(value) or ".." in value:
            raise FileSourceError(f"{value!r} is not a valid gs:// URI")
        return value
    if not value.endswith(LOCAL_SUFFIXES):
        raise FileSourceError(f"{value!r}: only {', '.join(LOCAL_SUFFIXES)} files can be loaded")
    root = tenant_files_root(tenant_id)
    path = Path(value)
    resolved = (path if path.is_absolute() else root / path).resolve()
    if not resolved.is_relative_to(root):
        raise FileSourceError(f"{value!r} is outside the local imports directory")
    return str(resolved)


def bucket_check(uri: str, buckets: frozenset[str]) -> str:
    """The ``gs://`` URI if its bucket is one the tenant registered; FileSourceError if not."""
    try:
        return isolation_bucket_check(uri, buckets)
    except AccessRefused as exc:
        raise FileSourceError(str(exc)) from exc


def column_names_from_header(header: list[str]) -> list[str]:
    """Warehouse-safe names: ``lineItem/UnblendedCost`` becomes ``lineItem_UnblendedCost``."""
    names: list[str] = []
    seen: set[str] = set()
    for raw in header:
        name = re.sub(r"[^A-Za-z0-9_]", "_", raw.strip()) or "column"
        if name[0].isdigit():
            name = f"_{name}"
        name = name[:128]
        candidate, suffix = name, 2
        while candidate.lower() in seen:
            candidate, suffix = f"{name[:120]}_{suffix}", suffix + 1
        seen.add(candidate.lower())
        names.append(candidate)
    return names


def csv_header_columns(
    path: str | Path, *, read_head: Callable[[str], bytes] | None = None
) -> list[Column]:
    """An all-STRING schema named from the CSV's header line; no data row is read.

    Everything loads as STRING so no value is reinterpreted on the way in (account ids keep
    leading zeros, ``1.81E-8`` stays exact, a numeric-looking tag stays text); the
    normalization SQL parses types itself. A ``gs://`` file's header comes from its first
    bytes, read through the storage adapter (a step passes its guarded warehouse's
    ``file_head``, so the bucket is checked and read as the tenant), so BigQuery never
    autodetects types either.
    """
    if str(path).startswith("gs://"):
        try:
            line = (read_head or object_head)(str(path)).split(b"\n", 1)[0]
        except StorageError as exc:
            raise FileSourceError(str(exc)) from exc
    else:
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rb") as handle:
            line = handle.readline()
    text = line.decode("utf-8-sig", errors="replace").rstrip("\r\n")
    header = next(csv.reader(io.StringIO(text)), [])
    if not header:
        raise FileSourceError(f"{Path(path).name}: no header line")
    return [Column(name, "STRING") for name in column_names_from_header(header)]


def parquet_column_names(path: str | Path) -> list[str]:
    """A local Parquet file's column names, read from its footer (no row is read)."""
    try:
        return list(pyarrow.parquet.read_schema(path).names)
    except (pyarrow.ArrowException, OSError) as exc:
        raise FileSourceError(f"{Path(path).name} is not a Parquet file") from exc


def file_format(uri: str, declared: str) -> str:
    """The load job's ``sourceFormat``: as declared, or (``auto``) from the file's name."""
    if declared == AUTO:
        return "PARQUET" if uri.lower().endswith(".parquet") else "CSV"
    return FORMATS[declared]


def file_fingerprint(uri: str) -> tuple[str, int | None, str | None]:
    """A loaded file's name, size in bytes and SHA-256 (hex), as the period ledger keeps them.

    Local files are read in chunks; a ``gs://`` object keeps its name only (its size and
    checksum would be read from the object's metadata, not done yet).
    """
    if uri.startswith("gs://"):
        return uri, None, None
    path = Path(uri)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return path.name, path.stat().st_size, digest.hexdigest()
