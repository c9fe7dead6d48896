"""The tenant cost page over every source of FOCUS costs the real pipelines wrote."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from costs.tests.conftest import SAMPLES, four_sources, imports  # noqa: F401


@pytest.mark.django_db
def test_the_cost_page_shows_all_four_sources(admin_client, four_sources):  # noqa: F811
    """AWS, Azure, the OCI mapping and a native FOCUS file: each table is read, each source's
    period is named (the native file by its source, it holds three providers), and every
    provider's cost is drawn."""
    cache.clear()
    url = reverse("admin:tenants_tenant_overview", args=[four_sources.tenant.pk])
    response = admin_client.get(
        url, {"range": "custom", "start": "2023-09-01", "end": "2024-08-31"}
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "From " + ", ".join(sorted(t for _, t in SAMPLES.values())) + ", grouped" in content
    for held in (
        "AWS 2023-11-01 to 2023-11-14",
        "Microsoft 2023-09-02 to 2023-09-02",
        "Oracle 2023-11-13 to 2023-11-13",
        "focus (AWS, Microsoft, Oracle) 2024-09-01 to 2024-09-30",
    ):
        assert held in content
    assert "focus (AWS, Microsoft, Oracle) has no charges in 2023-09-01 to 2024-08-31." in content
    rows = content.split('id="tenant-cost-by-service"', 1)[1].split("</table>", 1)[0]
    assert {"AWS", "Microsoft", "Oracle"} <= set(
        cell.split("</td>")[0] for cell in rows.split("<tr><td>")[1:]
    )
