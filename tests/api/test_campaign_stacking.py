"""A campaign's stacking terms (how its discount stacks with others on one order)
and automatic promotions, as the campaigns API takes and answers them."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from promo.checkout.automatic import automatic_codes
from promo.codes.automatic import automatic_form
from promo.ids import Kind, decode
from tests.support.api import cart, create_campaign, item

NOTHING = {
    "combines_with": {"order": False, "product": False, "shipping": False},
    "exclusive": False,
    "priority": 0,
}


async def test_a_campaign_stacks_with_nothing_unless_its_marketer_says_so(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer)
    assert campaign["stacking"] == NOTHING
    assert campaign["automatic"] is False


async def test_stacking_terms_are_kept_and_merge_patched(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    terms = {"combines_with": {"shipping": True, "product": True}, "priority": 10}
    campaign = await create_campaign(client, marketer, stacking=terms, automatic=True)
    assert campaign["automatic"] is True
    assert campaign["stacking"] == {
        "combines_with": {"order": False, "product": True, "shipping": True},
        "exclusive": False,
        "priority": 10,
    }
    url = f"/v1/campaigns/{campaign['id']}"
    patched = await client.patch(url, json={"stacking": {"exclusive": True}}, headers=marketer)
    assert patched.status_code == 200, patched.text
    # Only the key sent changed.
    assert patched.json()["stacking"] == {**campaign["stacking"], "exclusive": True}
    reset = await client.patch(url, json={"stacking": {"priority": None}}, headers=marketer)
    assert reset.json()["stacking"]["priority"] == 0
    stored: dict[str, Any] = (await client.get(url, headers=marketer)).json()
    assert stored["stacking"] == {**campaign["stacking"], "exclusive": True, "priority": 0}
    assert stored["automatic"] is True


async def test_bad_stacking_terms_are_refused_naming_the_field(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    for stacking, field in (
        ({"priority": 1001}, "stacking.priority"),
        ({"combines_with": {"gift": True}}, "stacking.combines_with.gift"),
        ({"exclusive": "yes"}, "stacking.exclusive"),
    ):
        body = {
            "name": "Bad",
            "currency": "EUR",
            "starts_at": "2026-06-01T00:00:00Z",
            "discount": {"type": "free_shipping"},
            "stacking": stacking,
        }
        response = await client.post("/v1/campaigns", json=body, headers=marketer)
        assert response.status_code == 422, response.text
        assert field in response.text


async def test_a_referral_program_is_never_automatic(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    reward = await create_campaign(client, marketer, name="Reward")
    body = {
        "name": "Bring a friend",
        "kind": "referral",
        "automatic": True,
        "currency": "EUR",
        "starts_at": "2026-06-01T00:00:00Z",
        "discount": {"type": "percentage", "percent_off": 10},
        "referral": {"reward_campaign_id": reward["id"]},
    }
    response = await client.post("/v1/campaigns", json=body, headers=marketer)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "automatic"


async def test_an_automatic_campaign_counts_its_uses_on_a_code_no_one_can_type(
    client: httpx.AsyncClient,
    marketer: dict[str, str],
    checkout: dict[str, str],
    db: AsyncSession,
) -> None:
    automatic = await create_campaign(client, marketer, name="Summer sale", automatic=True)
    await create_campaign(client, marketer, name="Paused sale", automatic=True, status="paused")
    await create_campaign(client, marketer, name="Dollars", automatic=True, currency="USD")
    await create_campaign(client, marketer, name="Typed codes only")
    listed = await client.get(f"/v1/campaigns/{automatic['id']}/codes", headers=marketer)
    assert [(c["code"], c["kind"]) for c in listed.json()["items"]] == [("AUTOMATIC", "automatic")]
    typed = await client.post(
        "/v1/validations",
        json={"code": "AUTOMATIC", "cart": cart(item("TSHIRT", 1, 2500))},
        headers=checkout,
    )
    assert typed.json()["reason"] == "code_not_found"
    # The running ones in a currency, for the checkout to decide.
    assert await automatic_codes(db, "EUR") == [automatic_form(decode_id(automatic["id"]))]


def decode_id(public_id: str) -> int:
    value = decode(Kind.CAMPAIGN, public_id)
    assert value is not None
    return value
