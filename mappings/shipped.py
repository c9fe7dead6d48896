"""The mappings shipped with the product: ``mappings/library/<name>.yml``, parsed once."""

from __future__ import annotations

import functools
import threading
from pathlib import Path

from mappings.format import MappingInvalid, MappingIssue, MappingSpec, mapping_parse

LIBRARY = Path(__file__).resolve().parent / "library"
_lock = threading.Lock()


def shipped_root() -> Path:
    return LIBRARY


@functools.lru_cache(maxsize=8)
def _load(root: str) -> dict[str, MappingSpec | MappingInvalid]:
    base = Path(root)
    found: dict[str, MappingSpec | MappingInvalid] = {}
    for path in sorted(base.glob("*.y*ml")):
        file = f"mappings/library/{path.name}"
        name = path.name.split(".", 1)[0]
        try:
            found[name] = mapping_parse(path.read_text(encoding="utf-8"), file=file, name=name)
        except MappingInvalid as exc:
            found[name] = exc
    for path in sorted(p for p in base.iterdir() if p.is_file()) if base.is_dir() else ():
        if not path.name.endswith((".yml", ".yaml")) and not path.name.startswith("."):
            problem = "mapping files are <name>.yml"
            found[path.name] = MappingInvalid([MappingIssue(str(path.name), "", "", problem)])
    return found


def _shipped() -> dict[str, MappingSpec | MappingInvalid]:
    with _lock:
        return _load(str(shipped_root().resolve()))


def shipped_mapping(name: str) -> MappingSpec | None:
    """The shipped mapping of that name; MappingInvalid if its file is broken."""
    found = _shipped().get(name)
    if isinstance(found, MappingInvalid):
        raise found
    return found


def shipped_mappings() -> list[MappingSpec]:
    """Every valid shipped mapping, by name."""
    return [spec for _, spec in sorted(_shipped().items()) if isinstance(spec, MappingSpec)]


def shipped_mappings_validate() -> list[MappingIssue]:
    """Every problem in every shipped mapping file; empty when all are valid."""
    return [
        issue
        for _, found in sorted(_shipped().items())
        if isinstance(found, MappingInvalid)
        for issue in found.issues
    ]


def shipped_mappings_cache_clear() -> None:
    _load.cache_clear()
