"""``POST /api/v1/tenants/{id}/provider-configs/{config_id}/check`` against a real S3 server: what
the export holds and the proposed schedule and backfill, or exactly what is wrong as a 400."""

from __future__ import annotations

import uuid

import pytest

from connectors.tests.cur import cur_month_put, s3_admin
from connectors.tests.test_sync_aws_cur import PREFIX, connect
from pipelines.models import RunStatus
from tenants.services.audit import Actor
from tenants.services.credentials import provider_config_set
from tenants.tests.conftest import key_client

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
CHECK = "/api/v1/tenants/{tenant}/provider-configs/{config}/check"


@pytest.fixture
def bucket(s3_endpoint):
    name = f"billing-{uuid.uuid4().hex[:12]}"
    s3_admin(s3_endpoint).create_bucket(Bucket=name)
    return name


def test_check_lists_the_months_and_proposes_a_schedule_and_backfill(
    onboard, s3_endpoint, bucket, tmp_path, sync_run
):
    """Two months of CUR: both listed with their assembly and parts, the newest manifest named,
    every sync every six hours proposed, both months to backfill; once November is synced only
    December is left to backfill."""
    onboarded = onboard(f"chk_{uuid.uuid4().hex[:6]}", plan="PROFESSIONAL")
    s3 = s3_admin(s3_endpoint)
    config = connect(onboarded.tenant, bucket)
    november = cur_month_put(s3, bucket, PREFIX, tmp_path)
    december = cur_month_put(s3, bucket, PREFIX, tmp_path, months=1, parts=2)
    client = key_client(onboarded.api_key)
    url = CHECK.format(tenant=onboarded.tenant.id, config=config.pk)

    answer = client.post(url)

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["provider"], body["layout"], body["location"], body["prefix"]) == (
        "aws",
        "aws_cur",
        f"s3://{bucket}",
        f"{PREFIX}/",
    )
    assert [
        (p["billing_period"], p["delivery_id"], p["parts"], p["synced"]) for p in body["periods"]
    ] == [
        ("2023-11-01", november.assembly_id, 3, False),
        ("2023-12-01", december.assembly_id, 2, False),
    ]
    assert body["newest_manifest"] == december.manifest_key
    assert body["proposal"] == {
        "pipeline": "aws/cost/sync",
        "schedule": "0 */6 * * *",
        "backfill": ["2023-11-01", "2023-12-01"],
    }
    assert "ext-" not in answer.content.decode()

    s3.delete_object(Bucket=bucket, Key=december.manifest_key)
    assert sync_run(onboarded.tenant.id, "aws").status == RunStatus.COMPLETED
    december = cur_month_put(s3, bucket, PREFIX, tmp_path, months=1)
    body = client.post(url).json()
    assert [(p["billing_period"], p["synced"]) for p in body["periods"]] == [
        ("2023-11-01", True),
        ("2023-12-01", False),
    ]
    assert body["proposal"]["backfill"] == ["2023-12-01"]


def test_check_says_what_is_wrong(onboard, s3_endpoint, bucket, tmp_path):
    """No export under the prefix, an unknown bucket, no connector settings: each a 400 whose
    detail names the bucket, prefix or setting; another tenant's config is a 404."""
    onboarded = onboard(f"chk_{uuid.uuid4().hex[:6]}", plan="PROFESSIONAL")
    other = onboard(f"chk_{uuid.uuid4().hex[:6]}", plan="PROFESSIONAL")
    client = key_client(onboarded.api_key)
    config = connect(onboarded.tenant, bucket, prefix="cur/nothing-here")
    url = CHECK.format(tenant=onboarded.tenant.id, config=config.pk)

    answer = client.post(url)
    assert answer.status_code == 400
    assert answer.json()["detail"] == (
        f"no Cost and Usage Report under s3://{bucket}/cur/nothing-here/ (no "
        "<report>/<YYYYMMDD-YYYYMMDD>/<report>-Manifest.json)"
    )

    missing = f"no-such-{uuid.uuid4().hex[:8]}"
    config.settings["export_bucket"] = missing
    config.save(update_fields=["settings"])
    answer = client.post(url)
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith(f"s3://{missing}")

    plain = provider_config_set(
        tenant=onboarded.tenant,
        provider="azure",
        settings={},
        notification_emails=[],
        credential=None,
        actor=Actor.system("test"),
    )
    answer = client.post(CHECK.format(tenant=onboarded.tenant.id, config=plain.pk))
    assert answer.status_code == 400
    assert "connects no export: set export_layout" in answer.json()["detail"]

    foreign = connect(other.tenant, bucket)
    answer = client.post(CHECK.format(tenant=onboarded.tenant.id, config=foreign.pk))
    assert answer.status_code == 404
    assert answer.json()["detail"]


def test_connector_settings_are_checked_when_stored(onboard, api_client):
    """Bad connector settings are a 400 naming each setting; nothing is stored."""
    onboarded = onboard(f"chk_{uuid.uuid4().hex[:6]}", plan="PROFESSIONAL")
    client = key_client(onboarded.api_key)
    answer = client.post(
        f"/api/v1/tenants/{onboarded.tenant.id}/provider-configs",
        {
            "provider": "aws",
            "settings": {
                "export_layout": "aws_cur",
                "export_bucket": "Bad Bucket!",
                "export_prefix": "../victim",
                "export_colour": "blue",
            },
        },
        format="json",
    )
    assert answer.status_code == 400
    detail = str(answer.json())
    for needle in (
        "settings.export_bucket",
        "settings.export_prefix",
        "settings.export_colour: unknown connector setting",
        "settings.export_region: required for the aws_cur layout",
    ):
        assert needle in detail, detail
    assert not onboarded.tenant.provider_configs.exists()
