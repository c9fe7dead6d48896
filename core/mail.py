"""Local email: every message is kept as an ``.eml`` file under ``var/mail/`` and echoed.

Django's file-based backend writes one file per connection with its own separators; this
one writes one standard RFC 5322 file per message, named so that names sort by time, which
``manage.py emails`` reads back (a new tenant's API key stays findable after a restart).
"""

from __future__ import annotations

import email
import email.policy
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.console import EmailBackend as ConsoleBackend


def mail_dir() -> Path:
    """Where kept emails go: ``EMAIL_FILE_PATH``, else ``var/mail``."""
    configured = getattr(settings, "EMAIL_FILE_PATH", None)
    return Path(configured) if configured else Path(settings.VAR_DIR) / "mail"


class KeptEmailBackend(BaseEmailBackend):
    """Write each message to ``var/mail/<UTC time>-<id>.eml``, then print it like the console."""

    def __init__(self, *args, echo: bool | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.directory = mail_dir()
        self.echo = getattr(settings, "EMAIL_ECHO", True) if echo is None else echo
        self._console = ConsoleBackend(*args, **kwargs) if self.echo else None

    def send_messages(self, email_messages) -> int:
        if not email_messages:
            return 0
        self.directory.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
            path = self.directory / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
            # Written under a temporary name and renamed, so a reader never sees half a file.
            partial = path.with_suffix(".part")
            partial.write_bytes(message.message().as_bytes(linesep="\n"))
            partial.replace(path)
            sent += 1
        if self._console is not None:
            self._console.send_messages(email_messages)
        return sent


@dataclass(frozen=True)
class KeptEmail:
    path: Path
    date: str
    sender: str
    to: str
    subject: str
    body: str


def kept_emails_list(*, limit: int = 10, to: str = "", contains: str = "") -> list[KeptEmail]:
    """The newest kept emails first, optionally only those to an address or holding a text."""
    directory = mail_dir()
    if not directory.is_dir():
        return []
    found: list[KeptEmail] = []
    for path in sorted(directory.glob("*.eml"), reverse=True):
        kept = _read(path)
        if to and to.lower() not in kept.to.lower():
            continue
        if contains and contains not in kept.body and contains not in kept.subject:
            continue
        found.append(kept)
        if len(found) >= limit:
            break
    return found


def _read(path: Path) -> KeptEmail:
    message: EmailMessage = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    part = message.get_body(preferencelist=("plain", "html"))
    body = part.get_content() if part is not None else ""
    return KeptEmail(
        path=path,
        date=str(message.get("Date", "")),
        sender=str(message.get("From", "")),
        to=str(message.get("To", "")),
        subject=str(message.get("Subject", "")),
        body=body,
    )
