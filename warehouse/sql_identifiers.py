"""SQL templates whose ``{name}`` placeholders fill identifiers only, each checked first."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

# \A and \Z, not ^ and $: "$" also matches before a trailing newline.
NAME_PATTERN = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]{0,127}\Z")
PROJECT_PATTERN = re.compile(r"\A[a-z][a-z0-9-]{4,28}[a-z0-9]\Z")
PLACEHOLDER_PATTERN = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
QUERY_PARAMETER_PATTERN = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")

# ``run_tag`` is the run id as a name: tables named with it are the run's own (its staging).
BUILTIN_IDENTIFIERS = frozenset({"tenant_id", "dataset", "project", "run_tag"})
RUN_TAG = "{run_tag}"


class PlaceholderError(ValueError):
    """A placeholder has no value, or its value is not a safe identifier."""


def identifier_check(name: str, value: object) -> str:
    """The value if it is a name, ``dataset.table`` or ``project.dataset.table``; else raise.

    Every part is matched against an allow-list, so a value can never close a backtick
    quote, open a string or comment, or end the statement.
    """
    if not isinstance(value, str):
        raise PlaceholderError(f"placeholder {{{name}}}: value must be a string identifier")
    parts = value.split(".")
    if len(parts) > 3:
        raise PlaceholderError(f"placeholder {{{name}}}: {value!r} has more than three parts")
    if len(parts) == 3:
        project = parts.pop(0)
        if not PROJECT_PATTERN.match(project) or "--" in project:
            raise PlaceholderError(
                f"placeholder {{{name}}}: {project!r} is not a valid project id "
                "(6-30 lowercase letters, digits or single hyphens)"
            )
    for part in parts:
        if not NAME_PATTERN.match(part):
            raise PlaceholderError(
                f"placeholder {{{name}}}: {value!r} is not a valid identifier "
                "(ASCII letters, digits and underscores, not starting with a digit)"
            )
    return value


def name_check(name: str, value: object) -> str:
    """The value if it is a single name (a column, table or dataset), else raise."""
    if not isinstance(value, str) or not NAME_PATTERN.match(value):
        raise PlaceholderError(f"{name}: {value!r} is not a valid identifier")
    return value


def placeholders(template: str) -> set[str]:
    """The ``{name}`` placeholders a template uses."""
    return set(PLACEHOLDER_PATTERN.findall(template))


def query_parameters(sql: str) -> set[str]:
    """The ``@name`` query parameters a statement references."""
    return set(QUERY_PARAMETER_PATTERN.findall(sql))


@functools.lru_cache(maxsize=4096)
def _placeholder_names(template: str) -> tuple[str, ...]:
    """``placeholders`` in order, remembered: run ids are rendered per run, from few templates."""
    return tuple(sorted(placeholders(template)))


def sql_render(template: str, identifiers: Mapping[str, object]) -> str:
    """Fill every placeholder with its checked identifier; raise PlaceholderError otherwise.

    All values are checked before any is substituted, and substitution is a single pass,
    so a value can never introduce a placeholder of its own.
    """
    checked = {}
    for name in _placeholder_names(template):
        if name not in identifiers or identifiers[name] is None:
            raise PlaceholderError(f"placeholder {{{name}}} has no value")
        checked[name] = identifier_check(name, identifiers[name])
    return PLACEHOLDER_PATTERN.sub(lambda m: checked[m.group(1)], template)
