"""Extension points that the apps above ``tenants`` fill in their ``AppConfig.ready()``.

``tenants`` sits below ``pipelines`` and ``mappings`` (SPEC.md "Layout"), yet a provider name,
a provider config's settings, a dry run and an onboarding each involve them. Rather than import
upwards, tenants asks whatever registered here; each list is filled once at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tenants.models import Tenant

# () -> provider names that shipped pipeline configs use (pipelines).
builtin_providers: list[Callable[[], Iterable[str]]] = []
# (tenant_id) -> the names of the FOCUS mappings a tenant may use as providers (mappings).
tenant_providers: list[Callable[[str], Iterable[str]]] = []
# (settings) -> problems with a provider config's settings, each naming its setting (pipelines).
settings_checks: list[Callable[[dict[str, Any]], list[str]]] = []
# () -> (check name, passed, message) for the staff dry run (pipelines).
dry_run_checks: list[Callable[[], tuple[str, bool, str]]] = []
# (tenant) -> None, inside the onboarding transaction (pipelines: the run slot counters).
onboard_steps: list[Callable[[Tenant], None]] = []
# (tenant_id) -> the tenant's runs now PENDING or RUNNING (pipelines).
active_runs: list[Callable[[str], int]] = []


def providers_builtin() -> set[str]:
    return {name for source in builtin_providers for name in source()}


def providers_of_tenant(tenant_id: str) -> list[str]:
    return sorted({name for source in tenant_providers for name in source(tenant_id)})


def active_runs_count(tenant_id: str) -> int:
    return sum(count(tenant_id) for count in active_runs)
