"""Cloud credentials (envelope-encrypted through the KMS adapter) and provider configs."""

import json
import logging

from django.db import transaction

from tenants import hooks, kms
from tenants.errors import TenantInvalid
from tenants.models import CloudCredential, Provider, ProviderConfig, Tenant
from tenants.services.audit import Actor, audit_record
from warehouse.bigquery import tenant_dataset_id
from warehouse.isolation import (
    AccessPolicy,
    AccessRefused,
    bucket_names,
    bucket_names_invalid,
)
from warehouse.sql_identifiers import PlaceholderError, identifier_check

logger = logging.getLogger(__name__)

KIND_PROVIDER = {
    CloudCredential.Kind.GCP_SERVICE_ACCOUNT: Provider.GCP,
    CloudCredential.Kind.AWS_ACCESS_KEY: Provider.AWS,
    CloudCredential.Kind.AWS_ROLE: Provider.AWS,
    CloudCredential.Kind.AZURE_SERVICE_PRINCIPAL: Provider.AZURE,
    CloudCredential.Kind.AZURE_SAS: Provider.AZURE,
}
# Fields each kind of secret must carry (values are never echoed back).
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    CloudCredential.Kind.GENERIC: (),
    CloudCredential.Kind.GCP_SERVICE_ACCOUNT: ("type", "project_id", "private_key", "client_email"),
    CloudCredential.Kind.AWS_ACCESS_KEY: ("access_key_id", "secret_access_key"),
    CloudCredential.Kind.AWS_ROLE: ("role_arn",),
    CloudCredential.Kind.AZURE_SERVICE_PRINCIPAL: ("tenant_id", "client_id", "client_secret"),
    CloudCredential.Kind.AZURE_SAS: ("sas_url",),
}


def _encrypted_fields(secret: kms.EncryptedSecret) -> dict:
    return {
        "ciphertext": secret.ciphertext,
        "nonce": secret.nonce,
        "wrapped_key": secret.wrapped_key,
        "key_ref": secret.key_ref,
    }


def _stored_secret(credential: CloudCredential) -> kms.EncryptedSecret:
    return kms.EncryptedSecret(
        ciphertext=bytes(credential.ciphertext),
        nonce=bytes(credential.nonce),
        wrapped_key=bytes(credential.wrapped_key),
        key_ref=credential.key_ref,
    )


def provider_check(*, tenant: Tenant, provider: str) -> str:
    """The provider if this tenant can use it: a built-in one, or a FOCUS mapping's name
    (its own, staff's or a shipped one); TenantInvalid naming what it could be otherwise."""
    builtin = sorted({*Provider.values, *hooks.providers_builtin()})
    if provider in builtin:
        return provider
    mappings = hooks.providers_of_tenant(tenant.id)
    if provider not in mappings:
        raise TenantInvalid(
            f"Unknown provider {provider!r}: the built-in ones are "
            f"{', '.join(builtin)}; FOCUS mappings this tenant can use are "
            f"{', '.join(mappings) or 'none'} (create one with POST "
            f"/api/v1/tenants/{tenant.id}/mappings).",
            field="provider",
        )
    return provider


def credential_store(
    *, tenant: Tenant, provider: str, kind: str, name: str, secret: dict, actor: Actor
) -> CloudCredential:
    """Encrypt and store (or replace) a credential. Only its metadata is ever read back."""
    provider_check(tenant=tenant, provider=provider)
    builtin = KIND_PROVIDER.get(kind)
    if builtin != provider and (
        kind != CloudCredential.Kind.GENERIC or provider in Provider.values
    ):
        expected = "generic" if provider not in Provider.values else f"a {provider} kind"
        raise TenantInvalid(
            f"Kind {kind!r} is not a {provider!r} credential (use {expected}).", field="kind"
        )
    if not secret:
        raise TenantInvalid("Secret must have at least one field.", field="secret")
    missing = [f for f in KIND_FIELDS[kind] if not isinstance(secret.get(f), str) or not secret[f]]
    if missing:
        raise TenantInvalid(
            f"Secret for {kind} lacks fields: {', '.join(missing)}.", field="secret"
        )
    encrypted = kms.secret_encrypt(json.dumps(secret, sort_keys=True).encode(), tenant_id=tenant.id)
    with transaction.atomic():
        credential, created = CloudCredential.objects.update_or_create(
            tenant=tenant,
            provider=provider,
            name=name,
            defaults={"kind": kind, **_encrypted_fields(encrypted)},
        )
        audit_record(
            actor=actor,
            action="credential.store" if created else "credential.replace",
            tenant_id=tenant.id,
            target=str(credential),
            details={"credential_id": credential.pk, "kind": kind},
        )
    return credential


def credential_secret(*, credential: CloudCredential) -> dict:
    """The decrypted secret, for a pipeline step to use; never for an API response or a log."""
    return json.loads(
        kms.secret_decrypt(_stored_secret(credential), tenant_id=credential.tenant_id)
    )


def credential_delete(*, credential: CloudCredential, actor: Actor) -> None:
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="credential.delete",
            tenant_id=credential.tenant_id,
            target=str(credential),
        )
        credential.delete()


def credentials_rewrap() -> int:
    """Re-wrap every credential's data key with the current KMS key; returns how many."""
    count = 0
    for pk in CloudCredential.objects.values_list("pk", flat=True).iterator():
        with transaction.atomic():
            credential = CloudCredential.objects.select_for_update().get(pk=pk)
            rewrapped = kms.secret_rewrap(
                _stored_secret(credential), tenant_id=credential.tenant_id
            )
            for attr, value in _encrypted_fields(rewrapped).items():
                setattr(credential, attr, value)
            credential.save(update_fields=[*_encrypted_fields(rewrapped), "updated_at"])
        count += 1
    audit_record(
        actor=Actor.system("kms.rewrap"), action="credentials.rewrap", details={"count": count}
    )
    return count


def provider_settings_check(*, tenant: Tenant, settings: dict) -> dict:
    """The settings if the sources they name may be this tenant's; TenantInvalid if not.

    ``billing_export_table`` must be ``project.dataset.table`` outside the platform's project
    (or in the tenant's own dataset); ``source_buckets`` must be bucket names. The same rule
    is checked again on every statement a run sends (``warehouse.isolation``).
    ``anomaly_<option>`` settings must be valid options of the FOCUS pipelines' anomaly step.
    """
    from django.conf import settings as django_settings

    table = settings.get("billing_export_table")
    if table is not None:
        try:
            identifier_check("billing_export_table", table)
            if table.count(".") != 2:
                raise PlaceholderError("must be project.dataset.table")
            policy = AccessPolicy(
                project=django_settings.WAREHOUSE_PROJECT,
                tenant_id=tenant.id,
                dataset_id=tenant_dataset_id(tenant.id),
                sources=frozenset({table}),
            )
            policy.check_read(policy.ref(table))
        except (PlaceholderError, AccessRefused) as exc:
            raise TenantInvalid(f"settings.billing_export_table: {exc}", field="settings") from None
    problems = [problem for check in hooks.settings_checks for problem in check(settings)]
    if problems:
        raise TenantInvalid("; ".join(problems), field="settings")
    buckets = settings.get("source_buckets")
    if buckets is not None:
        bad = bucket_names_invalid(buckets)
        if bad or not bucket_names(buckets):
            raise TenantInvalid(
                f"settings.source_buckets: {', '.join(bad) or 'no bucket'} is not a bucket "
                "name (a comma-separated list of gs:// bucket names)",
                field="settings",
            )
    return settings


def provider_config_set(
    *,
    tenant: Tenant,
    provider: str,
    settings: dict,
    notification_emails: list[str],
    credential: CloudCredential | None,
    actor: Actor,
) -> ProviderConfig:
    provider_check(tenant=tenant, provider=provider)
    settings = provider_settings_check(tenant=tenant, settings=settings)
    if credential is not None and (
        credential.tenant_id != tenant.id or credential.provider != provider
    ):
        raise TenantInvalid(
            f"Credential {credential.pk} is not a {provider} credential of this tenant.",
            field="credential_id",
        )
    with transaction.atomic():
        config, created = ProviderConfig.objects.update_or_create(
            tenant=tenant,
            provider=provider,
            defaults={
                "settings": settings,
                "notification_emails": notification_emails,
                "credential": credential,
            },
        )
        audit_record(
            actor=actor,
            action="provider_config.set",
            tenant_id=tenant.id,
            target=str(config),
            details={"created": created},
        )
    return config
