"""GET /v1/me/campaigns: what an affiliate may promote, and what it earns on it."""

from __future__ import annotations

import httpx

from tests.support.api import create_affiliate, create_campaign
from tests.support.factories import bearer


async def test_affiliate_sees_running_open_campaigns_with_its_own_commission(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    affiliate = await create_affiliate(
        client, marketer, "Anna", create_key=True, commission={"percent": "15", "fixed": None}
    )
    open_one = await create_campaign(
        client,
        marketer,
        name="Open",
        open_to_affiliates=True,
        ends_at=None,
        starts_at="2026-01-01T00:00:00Z",
        rules={"customer_ids": ["cus_secret"], "min_subtotal": 3000},
        commission={"percent": 10, "fixed": 200},
    )
    await create_campaign(client, marketer, name="Closed", open_to_affiliates=False)
    await create_campaign(client, marketer, name="Draft", open_to_affiliates=True, status="draft")
    response = await client.get("/v1/me/campaigns", headers=bearer(affiliate["key"]))
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [c["id"] for c in items] == [open_one["id"]]
    campaign = items[0]
    # Its own percent overrides the default; the default fixed part still applies.
    assert campaign["commission"] == {"percent": "15.00", "fixed": 200, "plan_id": None}
    assert campaign["min_subtotal"] == 3000
    assert "cus_secret" not in response.text
    assert "limits" not in campaign
    assert "usage" not in campaign
