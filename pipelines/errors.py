"""Errors of the pipelines services; the API maps each to its HTTP answer."""

import re
from datetime import datetime

# An absolute POSIX path (two parts or more) and a traceback's location, as error text has them.
_PATH = re.compile(r"(?<![\w.:/])/(?:[^\s'\"/:,()]+/)+([^\s'\"/:,()]*)")
_SOURCE_LINE = re.compile(r"\s*(?:File \"[^\"]*\", line \d+|at \S+\.py:\d+)")


def tenant_message(text: str) -> str:
    """Error text fit for a tenant: no server path (the file name stays), no source line."""
    return _PATH.sub(lambda m: m.group(1) or "…", _SOURCE_LINE.sub("", text))


class RunRefused(Exception):
    """A run was not admitted. ``status_code`` is the HTTP answer."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TenantCannotRun(RunRefused):
    status_code = 403


class QuotaExceeded(RunRefused):
    status_code = 429

    def __init__(self, *, window: str, used: int, limit: int, resets_at: datetime | None) -> None:
        super().__init__(f"{window.capitalize()} run limit reached: {used} of {limit} used.")
        self.window = window
        self.used = used
        self.limit = limit
        self.resets_at = resets_at


class InvalidRunParameters(RunRefused):
    status_code = 400


class RunStateConflict(RunRefused):
    """The run's state forbids the request: cancelling a finished run, retrying a live one."""

    status_code = 409
