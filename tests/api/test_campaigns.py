"""Campaigns through HTTP: create, read, list, patch, lifecycle, and 422s naming the field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.api import SUMMER, create_campaign, merged


async def test_created_campaign_reads_back_as_sent(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    created = await create_campaign(
        client,
        marketer,
        limits={"max_redemptions": 1000, "max_redemptions_per_customer": 1, "budget": 2_000_000},
        commission={"percent": "12.5", "fixed": 100},
    )
    assert created["id"].startswith("cmp_")
    assert created["discount"] == {
        "type": "percentage",
        "percent_off": "20.00",
        "max_discount": 5000,
        "allocation": "across",
        "max_quantity": None,
    }
    assert created["rules"]["exclude_skus"] == ["GIFT-CARD"]
    assert created["limits"]["budget"] == 2_000_000
    assert created["commission"] == {"percent": "12.50", "fixed": 100, "plan_id": None}
    assert created["usage"] == {"redemptions": 0, "budget_used": 0}
    assert created["starts_at"] == "2026-05-31T22:00:00Z"  # stored as the UTC instant
    fetched = await client.get(f"/v1/campaigns/{created['id']}", headers=marketer)
    assert fetched.json() == created


async def test_list_filters_by_status_and_pages(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    ids = [(await create_campaign(client, marketer, name=f"c{i}"))["id"] for i in range(3)]
    await create_campaign(client, marketer, name="draft one", status="draft")
    seen: list[str] = []
    url = "/v1/campaigns?status=active&limit=2"
    while url:
        page = (await client.get(url, headers=marketer)).json()
        seen += [c["id"] for c in page["items"]]
        assert all(c["status"] == "active" for c in page["items"])
        url = (
            f"/v1/campaigns?status=active&limit=2&cursor={page['next_cursor']}"
            if page["next_cursor"]
            else ""
        )
    assert seen == ids


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ends_at": "2026-05-01T00:00:00Z"}, "ends_at"),
        ({"discount": {"type": "percentage", "percent_off": 0}}, "discount.percent_off"),
        ({"discount": {"type": "percentage", "percent_off": 100.5}}, "discount.percent_off"),
        ({"discount": {"type": "percentage", "percent_off": "12.345"}}, "discount.percent_off"),
        (
            {"discount": {"type": "fixed_amount", "amount_off": 500, "currency": "USD"}},
            "discount.currency",
        ),
        ({"discount": {"type": "fixed_amount", "amount_off": -5}}, "discount.amount_off"),
        ({"discount": {"type": "bogus"}}, "discount.type"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "eur"}, "currency"),
        ({"limits": {"max_redemptions": 0}}, "limits.max_redemptions"),
        ({"limits": {"budget": -1}}, "limits.budget"),
        ({"rules": {"min_subtotal": -100}}, "rules.min_subtotal"),
        ({"rules": {"unknown_rule": True}}, "rules.unknown_rule"),
        ({"starts_at": "2026-06-01T00:00:00"}, "starts_at"),
        ({"commission": {"percent": 101}}, "commission.percent"),
        ({"status": "archived"}, "status"),
    ],
)
async def test_inconsistent_campaign_is_422_naming_the_field(
    client: httpx.AsyncClient, marketer: dict[str, str], overrides: dict[str, Any], field: str
) -> None:
    response = await client.post("/v1/campaigns", json=merged(SUMMER, overrides), headers=marketer)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


async def test_patch_changes_only_what_is_sent(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    created = await create_campaign(client, marketer, limits={"max_redemptions": 10})
    patched = await client.patch(
        f"/v1/campaigns/{created['id']}",
        json={"name": "Renamed", "ends_at": None, "discount": {"type": "free_shipping"}},
        headers=marketer,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["name"] == "Renamed"
    assert body["ends_at"] is None
    assert body["discount"] == {"type": "free_shipping"}
    assert body["limits"]["max_redemptions"] == 10
    assert body["rules"] == created["rules"]


async def test_pause_resume_archive_and_archived_is_read_only(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer)
    url = f"/v1/campaigns/{campaign['id']}"
    for status in ("paused", "active", "archived"):
        response = await client.patch(url, json={"status": status}, headers=marketer)
        assert response.json()["status"] == status
    frozen = await client.patch(url, json={"name": "x"}, headers=marketer)
    assert frozen.status_code == 409
    assert frozen.json()["code"] == "campaign_archived"


async def test_live_campaign_cannot_go_back_to_draft(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer)
    response = await client.patch(
        f"/v1/campaigns/{campaign['id']}", json={"status": "draft"}, headers=marketer
    )
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_status_transition"


async def test_patch_keeps_the_window_consistent(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer)
    response = await client.patch(
        f"/v1/campaigns/{campaign['id']}",
        json={"starts_at": "2026-09-15T00:00:00Z"},
        headers=marketer,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "ends_at"


async def test_unknown_campaign_is_404(client: httpx.AsyncClient, marketer: dict[str, str]) -> None:
    for campaign_id in ("cmp_doesnotexist", "123", "aff_AeqP3z93"):
        response = await client.get(f"/v1/campaigns/{campaign_id}", headers=marketer)
        assert response.status_code == 404
        assert response.json()["code"] == "campaign_not_found"
