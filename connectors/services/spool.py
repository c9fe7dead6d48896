"""A part of an export streamed to a local file in chunks, never held whole in memory, its gzip
checked on the way (a corrupt or truncated part fails here, naming it, before any load)."""

from __future__ import annotations

import zlib
from pathlib import Path

from warehouse.exports import ExportObject, ExportStore, ExportStoreError

#: Bytes read from the store and written to disk at a time.
CHUNK_BYTES = 8 * 1024 * 1024


class PartUnreadable(ExportStoreError):
    """A part is not what its name says (a corrupt gzip) or is shorter than listed."""


class _GzipCheck:
    """Inflates a gzip stream chunk by chunk, keeping nothing: only its integrity matters.
    Each inflate is bounded (``max_length``), so a highly compressed chunk never expands
    whole in memory; several gzip members in a row (as some writers produce) are read on."""

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.started = False

    def feed(self, data: bytes) -> None:
        while data:
            if self._inflate.eof:
                data = self._inflate.unused_data + data
                self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                if not data:
                    return
            self.started = True
            self._inflate.decompress(data, CHUNK_BYTES)
            data = self._inflate.unconsumed_tail
            if self._inflate.eof:
                data = self._inflate.unused_data + data
                if data:
                    self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def finish(self) -> None:
        if not self._inflate.eof and self.started:
            raise zlib.error("the gzip stream ends before its last block")


def part_spool(store: ExportStore, part: ExportObject, path: Path) -> int:
    """Copy ``part`` to ``path`` in ``CHUNK_BYTES`` chunks; its size in bytes.

    A ``.gz`` part is inflated on the way to check it (a truncated or corrupt stream raises
    ``PartUnreadable`` naming the object); what is written is the part as stored.
    """
    check = _GzipCheck() if part.key.endswith(".gz") else None
    written = 0
    try:
        with store.open(part.key) as source, path.open("wb") as target:
            while chunk := source.read(CHUNK_BYTES):
                if check is not None:
                    check.feed(chunk)
                target.write(chunk)
                written += len(chunk)
        if check is not None:
            check.finish()
    except zlib.error as exc:
        raise PartUnreadable(
            f"{store.location}/{part.key}: not a readable gzip file ({exc}); the export "
            "wrote it incompletely or it was changed"
        ) from None
    if part.size and written != part.size:
        raise PartUnreadable(
            f"{store.location}/{part.key}: {written} bytes read where the listing says "
            f"{part.size}; it changed while the sync read it"
        )
    return written
