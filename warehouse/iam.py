"""The IAM adapter: the only module that talks to Google's IAM APIs.

Each tenant's jobs run as a service account the platform creates for it and grants the
tenant's dataset only. A project holds a limited number of service accounts (100 by default,
raised on request), so the accounts are spread over the projects listed in
``WAREHOUSE_IDENTITY_PROJECTS`` by a stable hash of the tenant id (docs/isolation.md).
The platform acts as an account by impersonation (IAM Credentials ``generateAccessToken``):
no key of it is ever made or stored.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.conf import settings
from google.auth import impersonated_credentials
from google.auth.credentials import Credentials
from google.auth.transport.requests import AuthorizedSession

from warehouse.bigquery import WarehouseError, platform_credentials

IAM_ENDPOINT = "https://iam.googleapis.com"
IAM_CREDENTIALS_ENDPOINT = "https://iamcredentials.googleapis.com"
#: What a tenant's account acts on: BigQuery, and reading the tenant's buckets.
TENANT_SCOPES = (
    "https://www.googleapis.com/auth/bigquery",
    "https://www.googleapis.com/auth/devstorage.read_only",
)
TOKEN_LIFETIME_SECONDS = 3600


class IdentityError(WarehouseError):
    """A tenant's service account could not be created or acted as."""


@dataclass(frozen=True)
class ManagedIdentity:
    """A tenant's platform-managed service account."""

    tenant_id: str
    project: str
    account_id: str

    @property
    def email(self) -> str:
        return f"{self.account_id}@{self.project}.iam.gserviceaccount.com"


def managed_identity(tenant_id: str) -> ManagedIdentity:
    """The tenant's account: its project is chosen by a stable hash over the identity projects.

    Account ids are 6-30 characters of ``[a-z0-9-]`` starting with a letter; a tenant id may be
    50 characters with underscores, so the id is ``cvt-`` and 24 hex digits of its hash.
    """
    projects = list(settings.WAREHOUSE_IDENTITY_PROJECTS) or [settings.WAREHOUSE_PROJECT]
    digest = hashlib.sha256(tenant_id.encode()).hexdigest()
    project = projects[int(digest, 16) % len(projects)]
    return ManagedIdentity(tenant_id=tenant_id, project=project, account_id=f"cvt-{digest[:24]}")


def _endpoints() -> tuple[str, str]:
    base = settings.WAREHOUSE_IAM_ENDPOINT.rstrip("/")
    return (base or IAM_ENDPOINT, base or IAM_CREDENTIALS_ENDPOINT)


def service_account_ensure(identity: ManagedIdentity) -> bool:
    """Create the tenant's account (``projects.serviceAccounts.create``); True if new.

    An account that already exists (a retried onboarding) is kept: 409 is not an error."""
    iam, _ = _endpoints()
    session = AuthorizedSession(platform_credentials())
    body = {
        "accountId": identity.account_id,
        "serviceAccount": {"displayName": f"Convergence tenant {identity.tenant_id}"[:100]},
    }
    try:
        response = session.post(
            f"{iam}/v1/projects/{identity.project}/serviceAccounts",
            data=json.dumps(body),
            headers={"Content-Type": "application/json"},
            timeout=settings.WAREHOUSE_TIMEOUT_SECONDS,
        )
    except Exception as exc:
        raise IdentityError(f"create service account {identity.email}: {exc}") from exc
    if response.status_code == 409:
        return False
    if response.status_code != 200:
        raise IdentityError(f"create service account {identity.email}: HTTP {response.status_code}")
    return True


def impersonated(identity: ManagedIdentity) -> Credentials:
    """Credentials that act as the tenant's account, minted by the platform's own."""
    _, credentials_api = _endpoints()
    return impersonated_credentials.Credentials(
        source_credentials=platform_credentials(),
        target_principal=identity.email,
        target_scopes=list(TENANT_SCOPES),
        lifetime=TOKEN_LIFETIME_SECONDS,
        iam_endpoint_override=(
            f"{credentials_api}/v1/projects/-/serviceAccounts/{identity.email}:generateAccessToken"
        ),
    )
