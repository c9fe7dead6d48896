"""Errors of the pipelines services; the API maps each to its HTTP answer."""

from datetime import datetime


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
