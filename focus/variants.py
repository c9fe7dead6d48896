"""Export variants: which kind of file a header is (AWS CUR 1.0 or 2.0, Azure EA or MCA cost
details, a FOCUS export, an OCI cost report, …), told apart by the columns each one has.

Each source module (``focus/aws.py``, ``azure.py``, ``gcp.py``, ``native.py``) declares the
variants it reads in ``VARIANTS``; sources read through a FOCUS mapping declare theirs here
(``MAPPED_VARIANTS``). ``variant_detect`` picks the variant a header is, or refuses it with a
message a tenant can act on: the closest variant, the columns it lacked, what to export instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from focus.model import FocusSourceError
from focus.sql import COLUMN_ALIASES, source_column


def header_key(name: str) -> str:
    """A header name as variants compare it: without a BOM or surrounding blanks, lower-case,
    every separator (``/``, ``.``, ``-``, blank) an underscore, as a load names the column.
    ``lineItem/UnblendedCost`` and ``lineitem_unblendedcost`` compare equal;
    ``line_item_unblended_cost`` (CUR 2.0) does not: its words are split differently."""
    return re.sub(r"[^a-z0-9_]", "_", name.replace("\ufeff", "").strip().lower())


@dataclass(frozen=True)
class Variant:
    """One kind of export, recognised by ``signature`` (every one of its columns present).

    ``pipeline`` is what a tenant runs for it (``aws/cost/focus``); ``required`` the columns its
    normalization cannot do without; ``export`` says how to get a file of this kind;
    ``refused`` (a legacy schema) says why it is recognised but not read.
    """

    key: str
    label: str
    pipeline: str
    signature: tuple[str, ...]
    export: str
    required: tuple[str, ...] = ()
    refused: str = ""
    sample: str = ""

    @property
    def provider(self) -> str:
        return self.pipeline.split("/", 1)[0]

    def present(self, keys: frozenset[str]) -> tuple[str, ...]:
        return tuple(c for c in self.signature if header_key(c) in keys)

    def lacking(self, columns: frozenset[str]) -> tuple[str, ...]:
        """Signature columns missing from the header, then required ones no name of it holds
        (under an alias or another spelling, as ``focus.sql.source_column`` finds them)."""
        keys = frozenset(header_key(c) for c in columns)
        missing = [c for c in self.signature if header_key(c) not in keys]
        missing += [
            c
            for c in self.required
            if source_column(c, columns) is None
            and not {c, *COLUMN_ALIASES.get(c, ())} & set(missing)
        ]
        return tuple(missing)


class VariantRefused(FocusSourceError):
    """A header no variant reads (unknown, legacy, or another pipeline's)."""


def _names(columns: Iterable[str]) -> str:
    return ", ".join(columns)


def variant_detect(
    columns: Iterable[str], *, pipeline: str, variants: Sequence[Variant]
) -> Variant:
    """The variant a header is, when it is one ``pipeline`` reads; else ``VariantRefused``.

    Every signature that is fully present matches; the longest such signature wins (an MCA
    export has every EA-style column the cost-details signature asks for, and more). A header
    that matches no variant is refused naming the closest one (most of its signature present)
    and what it lacked."""
    columns = frozenset(columns)
    keys = frozenset(header_key(c) for c in columns)
    matches = [v for v in variants if len(v.present(keys)) == len(v.signature)]
    if matches:
        found = max(matches, key=lambda v: (len(v.signature), v.pipeline == pipeline))
        if found.refused:
            raise VariantRefused(
                f"This file is {found.label} ({_names(found.signature)}): {found.refused} "
                f"{found.export}"
            )
        if found.pipeline != pipeline:
            raise VariantRefused(
                f"This file is {found.label}, which {found.pipeline} reads, not {pipeline}: "
                f"run {found.pipeline} with it."
            )
        lacking = found.lacking(columns)
        if lacking:
            raise VariantRefused(
                f"This file is {found.label} but lacks columns it needs: {_names(lacking)}. "
                f"{found.export}"
            )
        return found
    own = [v for v in variants if v.pipeline == pipeline and not v.refused] or list(variants)
    closest = max(own, key=lambda v: (len(v.present(keys)) / len(v.signature), -len(v.signature)))
    readable = ", ".join(v.label for v in variants if v.pipeline == pipeline and not v.refused)
    raise VariantRefused(
        f"{pipeline} does not recognise this file's header. The closest it reads is "
        f"{closest.label}, which would also have {_names(closest.lacking(columns))}. "
        f"{closest.export} ({pipeline} reads: {readable}.)"
    )


_OCI_EXPORT = (
    "Download the cost report (reports/cost-csv) from your tenancy's usage-report bucket and "
    "run oci/cost/focus with it; for a FOCUS report (reports/FOCUS) run focus/cost/native."
)
_OCI_COST_REPORT = (
    "lineItem/intervalUsageStart",
    "product/service",
    "cost/myCost",
    "cost/currencyCode",
    "lineItem/tenantId",
)
#: Sources read through a FOCUS mapping (``mappings/library/<name>.yml``), by mapping name.
MAPPED_VARIANTS = (
    Variant(
        "oci-cost-report",
        "an OCI cost report",
        "oci/cost/focus",
        _OCI_COST_REPORT,
        _OCI_EXPORT,
        sample="mappings/tests/data/oci_cost_report_basic.csv",
    ),
    Variant(
        "oci-cost-report-full",
        "an OCI cost report with its optional columns (subscription, overage, corrections)",
        "oci/cost/focus",
        (*_OCI_COST_REPORT, "cost/subscriptionId", "lineItem/isCorrection"),
        _OCI_EXPORT,
        sample="mappings/tests/data/oci_cost_report_sample.csv",
    ),
)
