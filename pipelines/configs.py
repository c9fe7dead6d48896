"""Pipeline configs: YAML at ``configs/{provider}/{domain}/{pipeline}.yml``, checked once."""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import re
import threading
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml
from croniter import croniter
from django.conf import settings

from core.yaml_loader import yaml_load
from pipelines.errors import InvalidRunParameters
from pipelines.processors import PROCESSORS
from pipelines.processors.base import RUNS_ON
from warehouse.files import (
    LOCAL_SUFFIXES,
    FileSourceError,
    bucket_check,
    file_source_check,
    tenant_files_root,
)
from warehouse.sql_identifiers import (
    BUILTIN_IDENTIFIERS,
    NAME_PATTERN,
    PlaceholderError,
    identifier_check,
    placeholders,
    query_parameters,
    sql_render,
)

PATH_PART = re.compile(r"\A[a-z0-9_]{1,64}\Z")
TOP_LEVEL_FIELDS = frozenset(
    {"pipeline_id", "description", "schedule", "variables", "parameters", "steps"}
)
# The platform's own pipelines (the onboarding check): never a tenant's to run or schedule.
SYSTEM_PROVIDER = "system"
# The generic pipeline (load, map to FOCUS, check) that runs a FOCUS mapping; a tenant runs it
# as ``<mapping name>/cost/focus``, never under this name.
MAPPED_PROVIDER = "mapping"
PARAMETER_TYPES = frozenset({"date", "string", "int", "number", "bool", "file"})
# Every run may carry ``date`` (the scheduler always sends the slot's date).
BUILTIN_PARAMETERS = {"date"}
DATE_TEXT = re.compile(r"\A\d{4}-\d{2}-\d{2}\Z")
MAX_STRING_PARAMETER = 1024
# A file parameter may name several files (a list, or a local folder ending in "/") for a
# backfill: each file runs the pipeline's file steps in turn, in one run.
MAX_FILES_PER_RUN = 120


class PipelineConfigError(Exception):
    """A pipeline config is missing or invalid, or run parameters do not fit it."""


class PipelineConfigNotFound(PipelineConfigError):
    """No config at ``provider/domain/pipeline``."""


class PipelineConfigInvalid(PipelineConfigError):
    """A config file failed validation; ``issues`` lists every problem."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("; ".join(str(i) for i in issues))


@dataclass(frozen=True)
class ConfigIssue:
    file: str
    field: str
    problem: str

    def __str__(self) -> str:
        return (
            f"{self.file}: {self.field}: {self.problem}"
            if self.field
            else (f"{self.file}: {self.problem}")
        )


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    type: str
    required: bool = False
    default: Any = None


@dataclass(frozen=True)
class StepConfig:
    """One step; ``options`` is its whole YAML mapping, deep-frozen, for its processor."""

    index: int
    step_id: str
    ps_type: str
    runs_on: str
    description: str
    options: Mapping[str, Any]


@dataclass(frozen=True)
class PipelineConfig:
    provider: str
    domain: str
    name: str
    file: str
    pipeline_id: str
    description: str
    schedule: str
    variables: Mapping[str, str | None]
    parameters: tuple[ParameterSpec, ...]
    steps: tuple[StepConfig, ...]

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.domain}/{self.name}"

    def pipeline_id_for(self, tenant_id: str) -> str:
        return sql_render(self.pipeline_id, {"tenant_id": tenant_id})

    @property
    def focus_table(self) -> str | None:
        """The FOCUS table a run of this pipeline writes in the tenant's dataset (the
        destination of its step whose processor ``writes_focus``), or None."""
        for step in self.steps:
            processor = PROCESSORS.get(step.ps_type)
            if processor is not None and processor.writes_focus:
                template = step.options.get("destination", {}).get("table", "")
                return sql_render(template, {k: v for k, v in self.variables.items() if v})
        return None

    def resolve_parameters(
        self,
        raw: Mapping[str, Any],
        *,
        tenant_id: str | None = None,
        buckets: frozenset[str] | None = None,
    ) -> dict[str, Any]:
        """The run's parameters checked, defaulted and JSON-ready; PipelineConfigError if not.

        With ``tenant_id``, local files resolve inside that tenant's own imports folder only;
        with ``buckets``, ``gs://`` files must be in one of them (the tenant's registered).
        """
        if not isinstance(raw, Mapping):
            raise PipelineConfigError("parameters must be a mapping")
        specs = {p.name: p for p in self.parameters}
        if "date" not in specs:
            specs["date"] = ParameterSpec("date", "date")
        problems = [f"unknown parameter {name!r}" for name in sorted(set(raw) - set(specs))]
        values: dict[str, Any] = {}
        for name, spec in specs.items():
            if raw.get(name) is None:
                if spec.required:
                    problems.append(f"parameter {name!r} is required ({spec.type})")
                elif spec.default is not None:
                    values[name] = spec.default
                continue
            try:
                values[name] = _parameter_value(
                    spec, raw[name], tenant_id=tenant_id, buckets=buckets
                )
            except ValueError as exc:
                problems.append(f"parameter {name!r}: {exc}")
        if problems:
            raise PipelineConfigError(f"{self.key}: " + "; ".join(problems))
        return values

    def typed_parameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Stored (JSON) parameter values as the typed values query parameters need."""
        kinds = {p.name: p.type for p in self.parameters}
        typed: dict[str, Any] = {}
        for name, value in values.items():
            kind = kinds.get(name, "date" if name in BUILTIN_PARAMETERS else "string")
            if kind == "date" and isinstance(value, str):
                typed[name] = dt.date.fromisoformat(value)
            elif kind == "number" and value is not None:
                typed[name] = decimal.Decimal(str(value))
            else:
                typed[name] = value
        return typed


def _parameter_value(
    spec: ParameterSpec,
    value: Any,
    *,
    tenant_id: str | None = None,
    buckets: frozenset[str] | None = None,
) -> Any:
    if spec.type == "date":
        if not isinstance(value, str) or not DATE_TEXT.match(value):
            raise ValueError("expected a date as YYYY-MM-DD")
        return dt.date.fromisoformat(value).isoformat()
    if spec.type == "string":
        if not isinstance(value, str) or len(value) > MAX_STRING_PARAMETER:
            raise ValueError(f"expected a string of at most {MAX_STRING_PARAMETER} characters")
        return value
    if spec.type == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("expected an integer")
        return value
    if spec.type == "number":
        try:
            number = decimal.Decimal(str(value))
        except decimal.InvalidOperation as exc:
            raise ValueError("expected a number") from exc
        if isinstance(value, bool) or not number.is_finite():
            raise ValueError("expected a number")
        return str(number)
    if spec.type == "bool":
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value
    if isinstance(value, list):
        if not 1 <= len(value) <= MAX_FILES_PER_RUN:
            raise ValueError(f"expected 1 to {MAX_FILES_PER_RUN} files")
        files = [_file_value(item, tenant_id=tenant_id, buckets=buckets) for item in value]
        return files[0] if len(files) == 1 else files
    if isinstance(value, str) and value.endswith("/"):
        return _folder_files(value, tenant_id=tenant_id)
    return _file_value(value, tenant_id=tenant_id, buckets=buckets)


def _folder_files(value: str, *, tenant_id: str | None) -> str | list[str]:
    """The loadable files of a folder in the tenant's imports folder, by name."""
    if value.startswith("gs://"):
        raise ValueError(
            "gs:// prefixes are not listed: name the files of a backfill as a list instead"
        )
    root = tenant_files_root(tenant_id)
    folder = (root / value).resolve()
    if not folder.is_relative_to(root) or not folder.is_dir():
        raise ValueError(f"no folder {value!r} in the tenant's imports folder")
    names = sorted(
        p.relative_to(root).as_posix()
        for p in folder.iterdir()
        if p.is_file() and p.name.endswith(LOCAL_SUFFIXES)
    )
    if not 1 <= len(names) <= MAX_FILES_PER_RUN:
        raise ValueError(
            f"folder {value!r} holds {len(names)} loadable files; 1 to {MAX_FILES_PER_RUN} run"
        )
    files = [_file_value(name, tenant_id=tenant_id) for name in names]  # links checked too
    return files[0] if len(files) == 1 else files


def _file_value(
    value: Any, *, tenant_id: str | None = None, buckets: frozenset[str] | None = None
) -> str:
    """One file: a gs:// URI in a registered bucket, or a file in the tenant's folder."""
    try:
        resolved = file_source_check(value, tenant_id=tenant_id)
        if resolved.startswith("gs://") and buckets is not None:
            bucket_check(resolved, buckets)
        if tenant_id is None or resolved.startswith("gs://"):
            return resolved
        # Checked at admission so a missing file is a 400 that uses no quota, not a failed run.
        if not Path(resolved).is_file():
            raise FileSourceError(f"no file {value!r} in the tenant's imports folder")
        return Path(resolved).relative_to(tenant_files_root(tenant_id)).as_posix()
    except FileSourceError as exc:
        raise ValueError(str(exc)) from exc


# -- loading ----------------------------------------------------------------------------------


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return types.MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _strings(value: Any, path: str):
    """Every string in a YAML tree with its field path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def pipeline_config_parse(text: str, *, file: str, provider: str, domain: str, name: str):
    """A PipelineConfig from YAML text, or PipelineConfigInvalid naming every problem."""
    issues: list[ConfigIssue] = []

    def issue(field: str, problem: str) -> None:
        issues.append(ConfigIssue(file, field, problem))

    try:
        data = yaml_load(text)
    except yaml.YAMLError as exc:
        raise PipelineConfigInvalid([ConfigIssue(file, "", f"not valid YAML: {exc}")]) from exc
    if not isinstance(data, Mapping):
        raise PipelineConfigInvalid([ConfigIssue(file, "", "must be a YAML mapping")])
    for key in sorted(set(data) - TOP_LEVEL_FIELDS, key=str):
        issue(str(key), "unknown field")

    variables = _variables(data.get("variables"), issue)
    known = set(variables) | BUILTIN_IDENTIFIERS
    parameters = _parameters(data.get("parameters"), issue)
    declared_parameters = {p.name: p for p in parameters}

    pipeline_id = data.get("pipeline_id")
    if not isinstance(pipeline_id, str) or not pipeline_id:
        issue("pipeline_id", "required, a string such as '{tenant_id}_gcp_cost_billing'")
        pipeline_id = ""
    else:
        _check_template(pipeline_id, "pipeline_id", known, issue)
    description = data.get("description") or ""
    if not isinstance(description, str):
        issue("description", "must be a string")
        description = ""
    schedule = data.get("schedule") or ""
    if schedule and (
        not isinstance(schedule, str)
        or len(schedule.split()) != 5
        or not croniter.is_valid(schedule)
    ):
        issue("schedule", f"{schedule!r} is not a five-field cron expression")
        schedule = ""

    steps = _steps(data.get("steps"), issue, known, declared_parameters)
    if issues:
        raise PipelineConfigInvalid(issues)
    return PipelineConfig(
        provider=provider,
        domain=domain,
        name=name,
        file=file,
        pipeline_id=pipeline_id,
        description=description.strip(),
        schedule=schedule,
        variables=types.MappingProxyType(variables),
        parameters=tuple(parameters),
        steps=tuple(steps),
    )


def _variables(raw: Any, issue) -> dict[str, str | None]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        issue("variables", "must be a mapping of name to identifier")
        return {}
    variables: dict[str, str | None] = {}
    for name, value in raw.items():
        path = f"variables.{name}"
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            issue(path, "variable names are identifiers (letters, digits, underscores)")
            continue
        if name in BUILTIN_IDENTIFIERS:
            issue(path, f"{name!r} is built in and cannot be redefined")
            continue
        # A variable without a value must be supplied at run time (e.g. a provider config).
        if value is not None:
            try:
                identifier_check(name, value)
            except PlaceholderError as exc:
                issue(path, str(exc))
                continue
        variables[name] = value
    return variables


def _parameters(raw: Any, issue) -> list[ParameterSpec]:
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        issue("parameters", "must be a mapping of name to {type, required, default}")
        return []
    specs = []
    for name, spec in raw.items():
        path = f"parameters.{name}"
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            issue(path, "parameter names are identifiers (letters, digits, underscores)")
            continue
        if not isinstance(spec, Mapping):
            issue(path, "must be a mapping such as {type: date, required: true}")
            continue
        for key in sorted(set(spec) - {"type", "required", "default"}, key=str):
            issue(f"{path}.{key}", "unknown field")
        kind = spec.get("type")
        if kind not in PARAMETER_TYPES:
            issue(f"{path}.type", f"{kind!r} is not one of {', '.join(sorted(PARAMETER_TYPES))}")
            continue
        required = spec.get("required", False)
        if not isinstance(required, bool):
            issue(f"{path}.required", "must be true or false")
            continue
        default = spec.get("default")
        if isinstance(default, dt.date):
            default = default.isoformat()  # YAML reads an unquoted 2024-01-01 as a date
        if default is not None:
            try:
                default = _parameter_value(ParameterSpec(name, kind), default)
            except ValueError as exc:
                issue(f"{path}.default", str(exc))
                continue
        specs.append(ParameterSpec(name, kind, required, default))
    return specs


def _check_template(text: str, path: str, known: set[str], issue) -> None:
    for name in sorted(placeholders(text) - known):
        issue(path, f"unknown placeholder {{{name}}} (not a variable or built-in)")


def _steps(raw: Any, issue, known: set[str], parameters: Mapping[str, ParameterSpec]):
    if not isinstance(raw, list) or not raw:
        issue("steps", "required, a non-empty list of steps")
        return []
    steps, seen = [], set()
    for index, step in enumerate(raw):
        where = f"steps[{index}]"
        if not isinstance(step, Mapping):
            issue(where, "must be a mapping")
            continue
        step_id = step.get("step_id")
        if not isinstance(step_id, str) or not NAME_PATTERN.match(step_id):
            issue(f"{where}.step_id", "required, an identifier (letters, digits, underscores)")
        elif step_id in seen:
            issue(f"{where}.step_id", f"duplicate step id {step_id!r}")
        else:
            seen.add(step_id)
        ps_type = step.get("ps_type")
        processor = PROCESSORS.get(ps_type) if isinstance(ps_type, str) else None
        if processor is None:
            issue(
                f"{where}.ps_type",
                f"unknown ps_type {ps_type!r} (known: {', '.join(sorted(PROCESSORS))})",
            )
        else:
            for problem in processor.validate(step):
                field, _, text = problem.partition(": ")
                issue(f"{where}.{field}", text)
        runs_on = step.get("runs_on", "success")
        if runs_on not in RUNS_ON:
            issue(f"{where}.runs_on", f"{runs_on!r} is not one of {', '.join(RUNS_ON)}")
        for path, text in _strings(step, ""):
            _check_template(text, f"{where}.{path}", known, issue)
        _check_parameters_used(step, where, parameters, issue)
        steps.append(
            StepConfig(
                index=index,
                step_id=step_id if isinstance(step_id, str) else "",
                ps_type=ps_type if isinstance(ps_type, str) else "",
                runs_on=runs_on,
                description=str(step.get("description") or ""),
                options=_freeze(step),
            )
        )
    return steps


def _check_parameters_used(step: Mapping, where: str, parameters: Mapping, issue) -> None:
    """Query ``@name`` references and file parameters must name declared parameters."""
    source = step.get("source")
    if not isinstance(source, Mapping):
        return
    query = source.get("query")
    if isinstance(query, str):
        for name in sorted(query_parameters(query) - set(parameters) - BUILTIN_PARAMETERS):
            issue(f"{where}.source.query", f"@{name} is not a declared parameter")
    for field in ("uri_param", "file_param"):
        name = source.get(field)
        if isinstance(name, str):
            spec = parameters.get(name)
            if spec is None or spec.type != "file":
                issue(f"{where}.source.{field}", f"{name!r} is not a parameter of type file")


# -- the registry -----------------------------------------------------------------------------


def configs_root() -> Path:
    """The configs directory; a setting read at call time so tests can point elsewhere."""
    return Path(getattr(settings, "PIPELINE_CONFIGS_DIR", settings.BASE_DIR / "configs"))


_lock = threading.Lock()


@functools.lru_cache(maxsize=8)
def _load_all(root: str) -> dict[str, PipelineConfig | PipelineConfigInvalid]:
    base = Path(root)
    loaded: dict[str, PipelineConfig | PipelineConfigInvalid] = {}
    for path in sorted(base.rglob("*.y*ml")):
        relative = path.relative_to(base)
        file = f"{base.name}/{relative.as_posix()}"
        parts = relative.with_suffix("").parts
        if len(parts) != 3 or not all(PATH_PART.match(p) for p in parts):
            loaded[relative.as_posix()] = PipelineConfigInvalid(
                [ConfigIssue(file, "", "must be {provider}/{domain}/{pipeline}.yml, lowercase")]
            )
            continue
        key = "/".join(parts)
        try:
            loaded[key] = pipeline_config_parse(
                path.read_text(encoding="utf-8"),
                file=file,
                provider=parts[0],
                domain=parts[1],
                name=parts[2],
            )
        except PipelineConfigInvalid as exc:
            loaded[key] = exc
    return loaded


def _configs() -> dict[str, PipelineConfig | PipelineConfigInvalid]:
    with _lock:
        return _load_all(str(configs_root().resolve()))


def pipeline_configs_cache_clear() -> None:
    """Forget parsed configs (after editing files in a long-lived process, or in tests)."""
    _load_all.cache_clear()


class ConfigSource(Protocol):
    """Pipeline configs that are not shipped files, such as the tenants' FOCUS mappings (each
    the generic ``mapping/cost/focus`` config set up for one mapping). Registered by the app
    that owns them, in its AppConfig.ready(), with config_source_register."""

    def config(self, *, tenant_id: str, provider: str, domain: str, pipeline: str):
        """The config a tenant runs at ``provider/domain/pipeline``; PipelineConfigNotFound
        if this source has none (InvalidRunParameters if it has one that no longer validates)."""

    def names_for_tenant(self, *, tenant_id: str) -> list[str]:
        """The providers (mapping names) whose ``<name>/cost/focus`` the tenant may run."""

    def names_staff(self) -> list[str]:
        """Every provider name staff may run for a tenant."""

    def issues(self) -> tuple[list[Any], list[str]]:
        """Problems in the source's shipped files (each printable), and the files found valid."""


CONFIG_SOURCES: list[ConfigSource] = []


def config_source_register(source: ConfigSource) -> None:
    if source not in CONFIG_SOURCES:
        CONFIG_SOURCES.append(source)


def config_source_configs(*, tenant_id: str) -> dict[str, PipelineConfig]:
    """Provider name -> the ``<name>/cost/focus`` config each registered source offers the
    tenant (its FOCUS mappings); one that no longer validates is left out."""
    configs: dict[str, PipelineConfig] = {}
    for source in CONFIG_SOURCES:
        for name in source.names_for_tenant(tenant_id=tenant_id):
            try:
                config = source.config(
                    tenant_id=tenant_id, provider=name, domain="cost", pipeline="focus"
                )
            except (PipelineConfigError, InvalidRunParameters):
                continue
            configs.setdefault(name, config)
    return configs


def pipeline_config_get(provider: str, domain: str, pipeline: str) -> PipelineConfig:
    """The config at ``provider/domain/pipeline``; NotFound or Invalid otherwise."""
    key = f"{provider}/{domain}/{pipeline}"
    if not all(isinstance(p, str) and PATH_PART.match(p) for p in (provider, domain, pipeline)):
        raise PipelineConfigNotFound(f"No pipeline config {key!r}.")
    found = _configs().get(key)
    if found is None:
        raise PipelineConfigNotFound(f"No pipeline config {key!r}.")
    if isinstance(found, PipelineConfigInvalid):
        raise found
    return found


def pipeline_config_resolve(
    provider: str, domain: str, pipeline: str, *, tenant_id: str | None = None
) -> PipelineConfig:
    """The config at ``provider/domain/pipeline``, else (for ``<name>/cost/focus``) the
    generic mapped pipeline running the FOCUS mapping ``name`` the tenant may use."""
    try:
        return pipeline_config_get(provider, domain, pipeline)
    except PipelineConfigNotFound:
        if tenant_id is None or provider in (SYSTEM_PROVIDER, MAPPED_PROVIDER):
            raise
        for source in CONFIG_SOURCES:
            try:
                return source.config(
                    tenant_id=tenant_id, provider=provider, domain=domain, pipeline=pipeline
                )
            except PipelineConfigNotFound:
                if source is CONFIG_SOURCES[-1]:
                    raise
        raise


def pipeline_config_providers() -> set[str]:
    """The providers a tenant may run shipped configs of (not ``system`` or ``mapping``)."""
    return {key.split("/", 1)[0] for key in _configs() if "/" in key} - {
        SYSTEM_PROVIDER,
        MAPPED_PROVIDER,
    }


def pipeline_config_is_mapped(provider: str) -> bool:
    """True if no shipped config names this provider, so its pipelines are FOCUS mappings'."""
    return not any(key.split("/", 1)[0] == provider for key in _configs())


def pipeline_config_for_tenant(
    provider: str, domain: str, pipeline: str, *, tenant_id: str | None = None
) -> PipelineConfig:
    """A config a tenant may run or schedule: any but the platform's own ``system/*`` and the
    generic ``mapping/*`` (which runs as the mapping's own provider name)."""
    if provider in (SYSTEM_PROVIDER, MAPPED_PROVIDER):
        raise PipelineConfigNotFound(f"No pipeline config {f'{provider}/{domain}/{pipeline}'!r}.")
    return pipeline_config_resolve(provider, domain, pipeline, tenant_id=tenant_id)


def pipeline_configs_all() -> list[PipelineConfig]:
    """Every valid config, ordered by ``provider/domain/pipeline``."""
    return [c for _, c in sorted(_configs().items()) if isinstance(c, PipelineConfig)]


def pipeline_configs_validate_all() -> list[ConfigIssue]:
    """Every problem in every config file; empty when all are valid."""
    return [
        issue
        for _, found in sorted(_configs().items())
        if isinstance(found, PipelineConfigInvalid)
        for issue in found.issues
    ]


ONBOARDING_PIPELINE = ("system", "onboarding", "dryrun")


def onboarding_config_check() -> tuple[str, bool, str]:
    """The staff dry run's check that the onboarding pipeline config loads."""
    try:
        pipeline_config_get(*ONBOARDING_PIPELINE)
    except PipelineConfigError as exc:
        return ("onboarding_config", False, str(exc))
    return ("onboarding_config", True, "Onboarding pipeline config loads.")
