"""What every step processor shares: the run context it gets, the result it returns."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from warehouse.bigquery import get_warehouse, tenant_dataset_id
from warehouse.isolation import AccessPolicy, GuardedWarehouse
from warehouse.sql_identifiers import (
    PlaceholderError,
    identifier_check,
    name_check,
    placeholders,
    sql_render,
)
from warehouse.tenant import tenant_warehouse

if TYPE_CHECKING:
    from pipelines.configs import PipelineConfig, StepConfig
    from warehouse.bigquery import Warehouse

COMMON_FIELDS = frozenset({"step_id", "ps_type", "description", "runs_on"})
RUNS_ON = ("success", "failure")
WRITE_MODES = ("append", "overwrite", "merge")
DATASET_TYPES = ("tenant_dataset",)


class StepFailed(Exception):
    """A step ran and found a problem that fails the run (not a transient error)."""


@dataclass(frozen=True)
class StepResult:
    """What a step did. ``outputs`` become parameters of the run's later steps (a sync passes
    the billing periods it loaded to the step that replaces them); a non-empty ``ends_run``
    completes the run there, its later steps SKIPPED, saying why (a sync that found nothing
    new)."""

    rows_processed: int = 0
    bytes_processed: int = 0
    details: dict = field(default_factory=dict)
    outputs: Mapping[str, Any] = field(default_factory=dict)
    ends_run: str = ""


@dataclass(frozen=True)
class StepContext:
    """Everything a step may use: the warehouse, the tenant's dataset, typed parameters.

    ``variables`` are identifiers (table, dataset, column names) for ``{name}`` placeholders;
    ``params`` are values, sent to the warehouse as ``@name`` query parameters only.
    ``sources`` and ``buckets`` are what the tenant registered in its provider config.
    The warehouse a step sees is always guarded by the tenant's access policy
    (``warehouse.isolation``), whatever adapter the context was made with.
    """

    warehouse: Warehouse | GuardedWarehouse
    tenant_id: str
    dataset_id: str
    params: Mapping[str, Any] = field(default_factory=dict)
    variables: Mapping[str, str | None] = field(default_factory=dict)
    run_id: str = ""
    pipeline_id: str = ""
    notification_emails: tuple[str, ...] = ()
    step: StepConfig | None = None
    failed_step: str = ""
    failure: str = ""
    sources: frozenset[str] = frozenset()
    buckets: frozenset[str] = frozenset()
    # The tenant's own stored GCP service-account key, for reads outside the platform.
    service_account: Callable[[], dict | None] | None = None
    # The pipeline's provider (its provider config holds the tenant's step settings).
    provider: str = ""

    def __post_init__(self) -> None:

        # Both are spliced into SQL as identifiers (the built-ins tenant_id and dataset).
        name_check("tenant_id", self.tenant_id)
        name_check("dataset", self.dataset_id)
        if not isinstance(self.warehouse, GuardedWarehouse):
            guarded = tenant_warehouse(
                tenant_id=self.tenant_id,
                dataset_id=self.dataset_id,
                sources=self.sources,
                buckets=self.buckets,
                service_account=self.service_account,
                warehouse=self.warehouse,
            )
            object.__setattr__(self, "warehouse", guarded)

    @property
    def policy(self) -> AccessPolicy:
        return self.warehouse.policy

    @classmethod
    def for_run(
        cls,
        run: Any,
        config: PipelineConfig,
        *,
        warehouse: Warehouse | None = None,
        variables: Mapping[str, str] | None = None,
        notification_emails: tuple[str, ...] = (),
        sources: frozenset[str] = frozenset(),
        buckets: frozenset[str] = frozenset(),
        service_account: Callable[[], dict | None] | None = None,
    ) -> StepContext:
        """The context of a recorded run; ``variables`` overlay the config's defaults."""

        return cls(
            warehouse=warehouse or get_warehouse(),
            tenant_id=run.tenant_id,
            dataset_id=tenant_dataset_id(run.tenant_id),
            params=config.typed_parameters(run.parameters or {}),
            variables={**config.variables, **(variables or {})},
            run_id=str(run.pk),
            pipeline_id=config.pipeline_id_for(run.tenant_id),
            notification_emails=tuple(notification_emails),
            sources=sources,
            buckets=buckets,
            service_account=service_account,
            provider=config.provider,
        )

    def for_step(self, step: StepConfig, failed_step: str = "", failure: str = "") -> StepContext:
        return dataclasses.replace(self, step=step, failed_step=failed_step, failure=failure)

    @property
    def project(self) -> str:
        return self.warehouse.project

    @property
    def run_tag(self) -> str:
        """The run id as a table-name part: a run's staging tables are named with it."""
        return "r" + re.sub(r"[^A-Za-z0-9]", "", self.run_id)[:32]

    @property
    def identifiers(self) -> dict[str, str | None]:
        return {
            **self.variables,
            "tenant_id": self.tenant_id,
            "dataset": self.dataset_id,
            "project": self.project,
            "run_tag": self.run_tag,
        }

    def render(self, template: str) -> str:
        """The template with every placeholder filled by a checked identifier."""
        return sql_render(template, self.identifiers)

    def table(self, template: str) -> str:
        """A readable ``project.dataset.table`` for a template; bare names are the tenant's.

        The access policy decides, as it does for every statement the warehouse gets.
        """
        name = identifier_check("table", self.render(template))
        return str(self.policy.check_read(self.policy.ref(name)))

    def table_in_dataset(self, template: str) -> str:
        """A table name that must live in the tenant's own dataset (loads, CTAS targets)."""
        name = self.render(template)
        if "." in name:
            raise PlaceholderError(f"{template!r}: destination must be a table name only")
        return identifier_check("table", name)


class Processor:
    """One ``ps_type``: checks its step's config at load time and runs the step."""

    ps_type: ClassVar[str] = ""
    # True for the step that writes its pipeline's FOCUS table in the tenant's dataset (its
    # destination.table): focus.replace_periods; the normalizing steps write the run's own.
    writes_focus: ClassVar[bool] = False
    fields: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, step: StepConfig) -> None:
        self.step = step

    @property
    def runs_on_failure(self) -> bool:
        return self.step.runs_on == "failure"

    @classmethod
    def validate(cls, step: Mapping[str, Any]) -> list[str]:
        """Problems with this step's config, each ``field.path: problem``."""
        unknown = sorted(set(step) - COMMON_FIELDS - cls.fields)
        return [f"{name}: unknown field for {cls.ps_type}" for name in unknown]

    def run(self, context: StepContext) -> StepResult:
        raise NotImplementedError


# -- validation helpers -----------------------------------------------------------------------


def get_path(step: Mapping[str, Any], path: str) -> Any:
    value: Any = step
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def require_str(step: Mapping[str, Any], path: str, errors: list[str]) -> str | None:
    value = get_path(step, path)
    if not isinstance(value, str) or not value.strip():
        errors.append(f"{path}: required, a non-empty string")
        return None
    return value


def require_mapping(step: Mapping[str, Any], path: str, errors: list[str]) -> Mapping | None:
    value = get_path(step, path)
    if not isinstance(value, Mapping):
        errors.append(f"{path}: required, a mapping")
        return None
    return value


def check_choice(value: Any, path: str, choices: tuple[str, ...], errors: list[str]) -> None:
    if value not in choices:
        errors.append(f"{path}: {value!r} is not one of {', '.join(choices)}")


def check_table_template(value: str | None, path: str, errors: list[str], *, bare: bool) -> None:
    """A table template is a placeholder or literal identifier, nothing else."""
    if value is None:
        return
    # A stand-in valid both as a name and as a project id, to check the literal parts.
    probe = {name: "abcdef" for name in placeholders(value)}
    try:
        rendered = sql_render(value, probe)
        if bare and "." in rendered:
            errors.append(f"{path}: must be a table name in the tenant dataset, not {value!r}")
            return
        identifier_check(path, rendered)
    except PlaceholderError:
        errors.append(f"{path}: {value!r} is not a table name or {{placeholder}}")


def check_destination(
    step: Mapping[str, Any], errors: list[str], *, modes: tuple[str, ...] = WRITE_MODES
) -> None:
    destination = require_mapping(step, "destination", errors)
    if destination is None:
        return
    unknown = sorted(set(destination) - {"dataset_type", "table", "write_mode", "merge_keys"})
    errors.extend(f"destination.{name}: unknown field" for name in unknown)
    check_choice(
        destination.get("dataset_type", "tenant_dataset"),
        "destination.dataset_type",
        DATASET_TYPES,
        errors,
    )
    check_table_template(
        require_str(step, "destination.table", errors), "destination.table", errors, bare=True
    )
    mode = destination.get("write_mode", "append")
    check_choice(mode, "destination.write_mode", modes, errors)
    keys = destination.get("merge_keys")
    if mode == "merge" and (not keys or not isinstance(keys, list | tuple)):
        errors.append("destination.merge_keys: required when write_mode is merge")
    if keys is not None:
        if not isinstance(keys, list | tuple) or not all(isinstance(k, str) for k in keys):
            errors.append("destination.merge_keys: must be a list of column names")
        else:
            for index, key in enumerate(keys):
                check_table_template(key, f"destination.merge_keys[{index}]", errors, bare=True)
