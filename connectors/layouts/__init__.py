"""How each provider lays out its export in storage: which objects make up a billing period's
current delivery. One module per layout (``aws.py``: CUR 1.0 manifests and Data Exports;
``azure.py``: Cost Management exports; ``oci.py``: OCI cost reports); each reads only the
listing and the manifests, never a data part (except where a layout says otherwise)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol

from warehouse.exports import ExportObject, ExportStore


class ExportLayoutError(Exception):
    """The export is not laid out as its provider writes it (no manifest, a manifest naming
    a missing part, a part outside the registered prefix): the message names the object."""


@dataclass(frozen=True)
class PeriodDelivery:
    """The current delivery of one billing period: what a sync loads when it is new."""

    #: First day of the billing month.
    period: date
    #: The provider's id of this delivery (CUR assemblyId, Data Exports executionId, Azure
    #: runId); "" where the provider has none (OCI).
    delivery_id: str
    manifest_key: str | None
    parts: tuple[ExportObject, ...]
    #: Column names the manifest declares, in order, where it lists them (checked against
    #: each part's header); None where it does not.
    columns: tuple[str, ...] | None
    format: Literal["CSV", "PARQUET"]
    #: Which cost dataset this delivery is, where an export holds one of several that must
    #: not be added together: Azure's ``ActualCost``, ``AmortizedCost`` or ``FocusCost``
    #: (``exportConfig.type``); "" for layouts with a single dataset (AWS, OCI).
    kind: str = ""
    #: True where a part may also hold rows of other periods (OCI: a cost report file holds
    #: late usage and corrections of the previous month too). A sync must then keep only the
    #: rows of ``period`` from these parts, or replacing ``period`` would also replace
    #: another period with a part's few rows of it.
    mixed_periods: bool = False


class ExportLayout(Protocol):
    """One provider's export layout."""

    #: ``aws_cur``, ``aws_data_exports``, ``azure_exports``, ``oci_reports``.
    name: str

    def deliveries(
        self,
        store: ExportStore,
        prefix: str,
        *,
        known_periods: Mapping[tuple[str, str], date | Collection[date]],
    ) -> list[PeriodDelivery]:
        """The current delivery of every billing period under ``prefix``, oldest first;
        ExportLayoutError when ``prefix`` holds no export of this layout.

        ``known_periods`` maps (key, etag) of objects the ledger has seen to their billing
        period, or to every period they hold rows of, for layouts that must otherwise read a
        part to learn it (OCI). An object the ledger records under several periods must map to
        all of them: a part missing from a period's delivery would drop its rows."""
        ...
