"""Where the local emulator (bqemulator) differs from BigQuery, fixed before it starts.

Run as ``python -m pipelines.emulator_fixes start ...`` (what ``emulator_start`` does): each
fix below is applied to the emulator's own modules, then its command line runs as usual.
The production SQL and client code stay as BigQuery wants them; only the stand-in bends.
"""

from __future__ import annotations

from collections.abc import Callable

FIXES: list[Callable[[], None]] = []


def fix(function: Callable[[], None]) -> Callable[[], None]:
    """Register a fix to apply at start-up."""
    FIXES.append(function)
    return function


@fix
def table_resource_names_its_view_query() -> None:
    """BigQuery's table resource carries ``view.query`` (and ``materializedView.query``);
    the emulator's ``tables.get`` leaves them out, so a client cannot tell what a view reads.
    """
    from bqemulator.api.routes import tables

    original = tables._table_to_rest

    def table_to_rest(t):
        body = original(t)
        if t.view_query:
            key = "materializedView" if t.table_type == "MATERIALIZED_VIEW" else "view"
            body[key] = {"query": t.view_query, "useLegacySql": False}
        return body

    tables._table_to_rest = table_to_rest


def main() -> None:
    for apply in FIXES:
        apply()
    from bqemulator.cli import main as emulator_main

    emulator_main()


if __name__ == "__main__":
    main()
