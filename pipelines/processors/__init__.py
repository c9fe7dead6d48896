"""The step processors, one per ``ps_type``; this registry is what configs and the engine use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipelines.processors.base import Processor, StepContext, StepFailed, StepResult
from pipelines.processors.bq_etl import BqEtl
from pipelines.processors.dq_check import DqCheck
from pipelines.processors.file_load import FileLoad
from pipelines.processors.focus_anomalies import FocusAnomalies
from pipelines.processors.focus_map import FocusMap
from pipelines.processors.focus_normalize import FocusNormalize
from pipelines.processors.notify_email import NotifyEmail

if TYPE_CHECKING:
    from pipelines.configs import StepConfig

PROCESSORS: dict[str, type[Processor]] = {
    cls.ps_type: cls
    for cls in (BqEtl, FileLoad, FocusNormalize, FocusMap, DqCheck, FocusAnomalies, NotifyEmail)
}


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
]
