"""Vanity codes: one canonical form for lookups, uniqueness and counts."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from promo.codes.models import Code
from tests.support.api import cart, create_campaign, create_code, item


async def test_code_keeps_its_display_form_and_is_found_by_any_spelling(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer)
    created = await create_code(client, marketer, campaign["id"], "Summer-20", max_redemptions=5)
    assert created["code"] == "Summer-20"
    assert created["canonical"] == "SUMMER20"
    assert created["campaign_id"] == campaign["id"]
    for spelling in ("summer20", "SUMMER 20", "summer-2o", "Summer_2O"):
        found = await client.get(f"/v1/codes/{spelling}", headers=marketer)
        assert found.status_code == 200, spelling
        assert found.json() == created


@pytest.mark.parametrize("duplicate", ["SUMMER20", "summer-20", "SUMMER2O", "Summer_20"])
async def test_duplicate_or_confusable_code_is_409_across_campaigns(
    client: httpx.AsyncClient, marketer: dict[str, str], duplicate: str
) -> None:
    first = await create_campaign(client, marketer)
    second = await create_campaign(client, marketer, name="Other")
    await create_code(client, marketer, first["id"], "SUMMER20")
    response = await client.post(
        f"/v1/campaigns/{second['id']}/codes", json={"code": duplicate}, headers=marketer
    )
    assert response.status_code == 409
    assert response.json()["code"] == "code_taken"


async def test_confusable_letters_fold_into_one_code(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer)
    await create_code(client, marketer, campaign["id"], "COOL10")
    response = await client.post(
        f"/v1/campaigns/{campaign['id']}/codes", json={"code": "C00I10"}, headers=marketer
    )
    assert response.status_code == 409


@pytest.mark.parametrize("text", ["AB", "A-B", "x" * 33, "SUMMER%20", "SÜMMER20", "DROP;TABLE", ""])
async def test_code_outside_the_alphabet_or_length_is_422(
    client: httpx.AsyncClient, marketer: dict[str, str], text: str
) -> None:
    campaign = await create_campaign(client, marketer)
    response = await client.post(
        f"/v1/campaigns/{campaign['id']}/codes", json={"code": text}, headers=marketer
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "code"


async def test_archiving_releases_the_code_for_a_new_campaign(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    old = await create_campaign(client, marketer, name="Summer 2025")
    await create_code(client, marketer, old["id"], "SUMMER20")
    await client.patch(f"/v1/campaigns/{old['id']}", json={"status": "archived"}, headers=marketer)
    new = await create_campaign(client, marketer, name="Summer 2026")
    reused = await create_code(client, marketer, new["id"], "SUMMER20")
    assert reused["campaign_id"] == new["id"]
    found = await client.get("/v1/codes/summer20", headers=marketer)
    assert found.json()["campaign_id"] == new["id"]


async def test_archived_campaign_gets_no_new_codes(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer)
    await client.patch(
        f"/v1/campaigns/{campaign['id']}", json={"status": "archived"}, headers=marketer
    )
    response = await client.post(
        f"/v1/campaigns/{campaign['id']}/codes", json={"code": "LATE10"}, headers=marketer
    )
    assert response.status_code == 409
    assert response.json()["code"] == "campaign_archived"


async def test_disabling_a_code_by_any_spelling(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer)
    await create_code(client, marketer, campaign["id"], "SUMMER20")
    patched = await client.patch("/v1/codes/summer-2o", json={"active": False}, headers=marketer)
    assert patched.status_code == 200
    assert patched.json()["active"] is False
    assert (await client.get("/v1/codes/SUMMER20", headers=marketer)).json()["active"] is False


async def test_lower_case_entry_is_counted_on_the_same_code(
    client: httpx.AsyncClient, marketer: dict[str, str], checkout: dict[str, str], db: AsyncSession
) -> None:
    """The classic bug: a lower-case spelling validates but is counted apart, so a
    single-use code is reused. Here usage lives on the one canonical row."""
    campaign = await create_campaign(client, marketer)
    code = await create_code(client, marketer, campaign["id"], "ONCE10", max_redemptions=1)
    await db.execute(update(Code).where(Code.canonical == code["canonical"]).values(used=1))
    for spelling in ("ONCE10", "once10", "0nce-1o", "OnCe_I0"):
        response = await client.post(
            "/v1/validations",
            json={"code": spelling, "cart": cart(item("TSHIRT-1", 1, 2500))},
            headers=checkout,
        )
        assert response.json()["reason"] == "code_exhausted", spelling


async def test_list_codes_of_a_campaign_pages_and_filters(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer)
    other = await create_campaign(client, marketer, name="Other")
    made = [
        (await create_code(client, marketer, campaign["id"], f"CODE{i}X"))["code"] for i in range(5)
    ]
    await create_code(client, marketer, other["id"], "ELSEWHERE")
    seen: list[str] = []
    url = f"/v1/campaigns/{campaign['id']}/codes?limit=2"
    while url:
        page = (await client.get(url, headers=marketer)).json()
        seen += [c["code"] for c in page["items"]]
        cursor = page["next_cursor"]
        url = f"/v1/campaigns/{campaign['id']}/codes?limit=2&cursor={cursor}" if cursor else ""
    assert seen == made


async def test_unknown_code_is_404(client: httpx.AsyncClient, marketer: dict[str, str]) -> None:
    for text in ("NOPE123", "%%%"):
        response = await client.get(f"/v1/codes/{text}", headers=marketer)
        assert response.status_code == 404
        assert response.json()["code"] == "code_not_found"
