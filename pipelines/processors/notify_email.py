"""``notify.email``: tell people a run failed (runs only after a failed step)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email

from pipelines.processors.base import Processor, StepContext, StepFailed, StepResult


class NotifyEmail(Processor):
    ps_type: ClassVar[str] = "notify.email"
    fields: ClassVar[frozenset[str]] = frozenset({"recipients", "include_tenant_contacts"})

    @classmethod
    def validate(cls, step: Mapping[str, Any]) -> list[str]:
        errors = super().validate(step)
        if step.get("runs_on") != "failure":
            errors.append("runs_on: notify.email steps must say runs_on: failure")
        recipients = step.get("recipients", [])
        if not isinstance(recipients, list | tuple):
            errors.append("recipients: must be a list of email addresses")
            recipients = []
        for index, address in enumerate(recipients):
            try:
                validate_email(address)
            except (ValidationError, TypeError):
                errors.append(f"recipients[{index}]: {address!r} is not an email address")
        contacts = step.get("include_tenant_contacts", False)
        if not isinstance(contacts, bool):
            errors.append("include_tenant_contacts: must be true or false")
        if not recipients and not contacts:
            errors.append("recipients: give recipients or include_tenant_contacts: true")
        return errors

    def run(self, context: StepContext) -> StepResult:
        spec = self.step.options
        recipients = list(spec.get("recipients", ()))
        if spec.get("include_tenant_contacts"):
            recipients += [a for a in context.notification_emails if a not in recipients]
        if not recipients:
            raise StepFailed("no one to notify: no recipients and no tenant contacts")
        subject = f"[Convergence] Pipeline {context.pipeline_id or context.tenant_id} failed"
        body = (
            f"Tenant: {context.tenant_id}\nRun: {context.run_id}\n"
            f"Failed step: {context.failed_step}\n\n{context.failure}\n"
        )
        sent = send_mail(subject, body, None, recipients)
        return StepResult(rows_processed=sent, details={"recipients": len(recipients)})
