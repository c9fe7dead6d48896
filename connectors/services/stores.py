"""Where a tenant's export is and how it is read: the connector settings of a provider config,
checked when they are stored, and the one place a store is built from them.

A store is built from the provider config's own settings and its own credential, never from
anything a run or a request names, and it is scoped to the registered prefix
(``warehouse.exports.ScopedStore``): a tenant's sync reads only its own export.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings as django_settings

from connectors.layouts import ExportLayout
from connectors.layouts.registry import layout_get
from tenants.models import CloudCredential, ProviderConfig
from tenants.services.credentials import credential_secret
from warehouse.azure_blob import azure_blob_store
from warehouse.exports import ExportStore, ScopedStore
from warehouse.s3 import oci_store, s3_store

#: Each layout and the settings it needs (``export_prefix`` too, except OCI's: its reports
#: bucket holds nothing else).
LAYOUTS: dict[str, tuple[str, ...]] = {
    "aws_cur": ("export_bucket", "export_prefix", "export_region"),
    "aws_data_exports": ("export_bucket", "export_prefix", "export_region"),
    "azure_exports": ("export_account", "export_container", "export_prefix"),
    "oci_reports": ("export_bucket", "export_namespace", "export_region"),
}
EXPORT_SETTINGS = (
    "export_layout",
    "export_bucket",
    "export_prefix",
    "export_region",
    "export_account",
    "export_container",
    "export_namespace",
    "export_kind",
)
PATTERNS = {
    # S3 bucket names; OCI's (a tenancy OCID for its cost reports) take letters and dots too.
    "export_bucket": (
        re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{1,254}[A-Za-z0-9]\Z"),
        "a bucket name",
    ),
    "export_prefix": (
        re.compile(r"\A(?!/)(?!.*(?:\A|/)\.\.?(?:/|\Z))[A-Za-z0-9!_.*'()=/ -]{0,512}\Z"),
        "a key prefix (letters, digits, !_.*'()=- and /, no leading / and no . or .. part)",
    ),
    "export_region": (re.compile(r"\A[a-z]{2,4}(-[a-z]+)+-\d{1,2}\Z"), "a region, e.g. us-east-1"),
    "export_account": (re.compile(r"\A[a-z0-9]{3,24}\Z"), "a storage account name"),
    "export_container": (
        re.compile(r"\A[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]\Z"),
        "a container name",
    ),
    "export_namespace": (re.compile(r"\A[a-z0-9-]{1,64}\Z"), "an Object Storage namespace"),
    "export_kind": (
        re.compile(r"\A(ActualCost|AmortizedCost|FocusCost)\Z"),
        "ActualCost, AmortizedCost or FocusCost (which of an Azure export's datasets to load)",
    ),
}
#: The schedule and first backfill a connector's onboarding proposes.
PROPOSED_SCHEDULE = "0 */6 * * *"


class ConnectorNotSet(Exception):
    """The provider config connects no export, or not one this pipeline reads, or its
    credential cannot read one: the message says which setting or credential to fix."""


def connector_settings_problems(settings: dict[str, Any]) -> list[str]:
    """Problems with a provider config's connector settings, each naming its setting
    (``tenants.hooks.settings_checks``). Settings without ``export_`` are not a connector's."""
    given = {k: v for k, v in settings.items() if k.startswith("export_")}
    if not given:
        return []
    problems = [
        f"settings.{name}: unknown connector setting (known: {', '.join(EXPORT_SETTINGS)})"
        for name in sorted(set(given) - set(EXPORT_SETTINGS))
    ]
    for name, value in sorted(given.items()):
        if name in PATTERNS and not (isinstance(value, str) and PATTERNS[name][0].match(value)):
            problems.append(f"settings.{name}: {value!r} is not {PATTERNS[name][1]}")
    layout = given.get("export_layout")
    if layout not in LAYOUTS:
        problems.append(
            f"settings.export_layout: {layout!r} is not one of {', '.join(LAYOUTS)} "
            "(required with any export_ setting)"
        )
        return problems
    problems += [
        f"settings.{name}: required for the {layout} layout"
        for name in LAYOUTS[layout]
        if name not in given
    ]
    return problems


def provider_config_for_sync(*, tenant_id: str, provider: str) -> ProviderConfig:
    """The tenant's provider config a sync of ``provider`` reads, with its credential."""
    config = (
        ProviderConfig.objects.select_related("credential")
        .filter(tenant_id=tenant_id, provider=provider)
        .first()
    )
    if config is None or not config.settings.get("export_layout"):
        raise ConnectorNotSet(
            f"No export is connected for {provider}: set export_layout and its settings "
            f"(docs/connectors.md) with POST /api/v1/tenants/{tenant_id}/provider-configs."
        )
    return config


def export_layout_for(config: ProviderConfig, *, allowed: tuple[str, ...]) -> ExportLayout:
    """The layout the config names, if the pipeline reads it."""
    name = config.settings["export_layout"]
    if name not in allowed:
        raise ConnectorNotSet(
            f"The {config.provider} provider config's export_layout is {name!r}; this "
            f"pipeline reads {', '.join(allowed)}."
        )
    return layout_get(name)


def export_prefix(config: ProviderConfig) -> str:
    """The registered prefix as a folder (``""`` for the whole bucket)."""
    prefix = str(config.settings.get("export_prefix") or "").strip("/")
    return f"{prefix}/" if prefix else ""


def export_store_for_config(config: ProviderConfig) -> tuple[ExportStore, str]:
    """The store of the config's export, read with the config's credential and scoped to its
    prefix, and that prefix. Nothing else chooses a bucket, a prefix or a credential."""
    layout = config.settings["export_layout"]
    credential = config.credential
    if credential is None:
        raise ConnectorNotSet(
            f"The {config.provider} provider config has no credential: store one "
            f"(POST /api/v1/tenants/{config.tenant_id}/credentials) and set credential_id."
        )
    secret = credential_secret(credential=credential)
    prefix = export_prefix(config)
    store = _store(layout, config.settings, credential.kind, secret)
    return ScopedStore(store, prefix), prefix


def _store(layout: str, settings: dict, kind: str, secret: dict) -> ExportStore:
    if layout == "azure_exports":
        return _azure_store(settings, kind, secret)
    if layout == "oci_reports":
        return oci_store(
            bucket=settings["export_bucket"],
            namespace=settings["export_namespace"],
            region=settings["export_region"],
            access_key_id=_secret_field(secret, "access_key_id", kind),
            secret_access_key=_secret_field(secret, "secret_access_key", kind),
        )
    return _aws_store(settings, kind, secret)


def _aws_store(settings: dict, kind: str, secret: dict) -> ExportStore:
    """The bucket as the tenant's role (assumed with its external id by the platform's own
    AWS identity) or, as a fallback, with its access key. Never as the platform itself: a
    credential with neither is refused here, before anything is called."""
    bucket, region = settings["export_bucket"], settings["export_region"]
    if kind == CloudCredential.Kind.AWS_ROLE or (
        kind == CloudCredential.Kind.GENERIC and "role_arn" in secret
    ):
        return s3_store(
            bucket=bucket,
            region=region,
            role_arn=_secret_field(secret, "role_arn", kind),
            external_id=_secret_field(secret, "external_id", kind),
        )
    if kind in (CloudCredential.Kind.AWS_ACCESS_KEY, CloudCredential.Kind.GENERIC):
        return s3_store(
            bucket=bucket,
            region=region,
            access_key_id=_secret_field(secret, "access_key_id", kind),
            secret_access_key=_secret_field(secret, "secret_access_key", kind),
        )
    raise ConnectorNotSet(
        f"An S3 export is read with an aws_role (role_arn, external_id) or aws_access_key "
        f"credential, not {kind}."
    )


def _azure_store(settings: dict, kind: str, secret: dict) -> ExportStore:
    """The container, as the service principal or through the container SAS URL; the
    account's URL is Azure's own (or, locally, Azurite's with the account in its path)."""
    account, container = settings["export_account"], settings["export_container"]
    base = _endpoint("AZURE_BLOB_ENDPOINT").rstrip("/")
    account_url = f"{base}/{account}" if base else f"https://{account}.blob.core.windows.net"
    if kind == CloudCredential.Kind.AZURE_SAS:
        return azure_blob_store(
            account_url=account_url,
            container=container,
            sas_url=_secret_field(secret, "sas_url", kind),
        )
    if kind == CloudCredential.Kind.AZURE_SERVICE_PRINCIPAL:
        return azure_blob_store(
            account_url=account_url,
            container=container,
            tenant_id=_secret_field(secret, "tenant_id", kind),
            client_id=_secret_field(secret, "client_id", kind),
            client_secret=_secret_field(secret, "client_secret", kind),
        )
    raise ConnectorNotSet(
        f"An Azure export is read with an azure_service_principal or azure_sas credential, "
        f"not {kind}."
    )


def _secret_field(secret: dict, name: str, kind: str) -> str:
    value = secret.get(name)
    if not isinstance(value, str) or not value:
        raise ConnectorNotSet(f"The {kind} credential lacks {name}.")
    return value


def _endpoint(name: str) -> str:
    return str(getattr(django_settings, name, "") or "")
