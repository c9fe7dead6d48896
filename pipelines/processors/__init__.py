"""The step processors, one per ``ps_type``; this registry is what configs and the engine use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipelines.processors.base import Processor, StepContext, StepFailed, StepResult
from pipelines.processors.bq_etl import BqEtl
from pipelines.processors.dq_check import DqCheck
from pipelines.processors.file_load import FileLoad
from pipelines.processors.focus_anomalies import FocusAnomalies
from pipelines.processors.focus_normalize import FocusNormalize
from pipelines.processors.focus_periods import FocusReplacePeriods
from pipelines.processors.notify_email import NotifyEmail

if TYPE_CHECKING:
    from pipelines.configs import StepConfig

# Filled here with the engine's own processors, and by higher apps in their AppConfig.ready()
# (mappings registers ``focus.map``) through processor_register.
PROCESSORS: dict[str, type[Processor]] = {
    cls.ps_type: cls
    for cls in (
        BqEtl,
        FileLoad,
        FocusNormalize,
        DqCheck,
        FocusReplacePeriods,
        FocusAnomalies,
        NotifyEmail,
    )
}


def processor_register(cls: type[Processor]) -> None:
    """Make ``cls`` the processor of its ``ps_type`` (an app's AppConfig.ready() calls it)."""
    registered = PROCESSORS.setdefault(cls.ps_type, cls)
    if registered is not cls:
        raise ValueError(f"ps_type {cls.ps_type!r} is already {registered.__name__}'s")


def processor_for(step: StepConfig) -> Processor:
    """The processor that runs this step."""
    return PROCESSORS[step.ps_type](step)


__all__ = [
    "PROCESSORS",
    "Processor",
    "StepContext",
    "StepFailed",
    "StepResult",
    "processor_for",
    "processor_register",
]
