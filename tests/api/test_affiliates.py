"""Affiliate accounts: create (with a key), read, list, update, deactivate."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from promo.affiliates.models import Affiliate
from promo.auth.roles import Role
from promo.ids import Kind, decode, encode
from tests.support.api import cart, create_campaign, create_code, item
from tests.support.clock import FrozenClock
from tests.support.factories import bearer

ANNA: dict[str, Any] = {
    "name": "Anna",
    "email": "Anna.Smith+promo@GMail.com",
    "commission": {"percent": "12.5", "fixed": 100},
    "payout_thresholds": {"EUR": 5000, "JPY": 1000},
    "holding_days": 14,
}


async def create_affiliate(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    response = await client.post("/v1/affiliates", json={**ANNA, **fields}, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_created_affiliate_is_returned_and_readable(
    client: httpx.AsyncClient, marketer: dict[str, str], db: AsyncSession
) -> None:
    created = await create_affiliate(client, marketer)
    assert created["id"].startswith("aff_")
    assert created["name"] == "Anna"
    assert created["email"] == "Anna.Smith+promo@GMail.com"
    assert created["commission"] == {"percent": "12.50", "fixed": 100, "plan_id": None}
    assert created["payout_thresholds"] == {"EUR": 5000, "JPY": 1000}
    assert created["holding_days"] == 14
    assert created["active"] is True
    assert created["key"] is None

    fetched = await client.get(f"/v1/affiliates/{created['id']}", headers=marketer)
    assert fetched.status_code == 200
    assert fetched.json() == {k: v for k, v in created.items() if k != "key"}

    row = await db.get(Affiliate, decode(Kind.AFFILIATE, created["id"]))
    assert row is not None
    assert row.email_key == "annasmith@gmail.com", "canonical e-mail for self-referral"


async def test_defaults_no_commission_plan_no_thresholds_thirty_days(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/affiliates", json={"name": "Bob", "email": "bob@example.com"}, headers=marketer
    )
    assert response.status_code == 201
    body = response.json()
    assert body["commission"] is None
    assert body["payout_thresholds"] == {}
    assert body["holding_days"] == 30


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"email": "not-an-address"}, "email"),
        ({"commission": {"percent": "12.345"}}, "commission.percent"),
        ({"commission": {"percent": 101}}, "commission.percent"),
        ({"commission": {"percent": -1}}, "commission.percent"),
        ({"commission": {"fixed": -1}}, "commission.fixed"),
        ({"payout_thresholds": {"XYZ": 100}}, "payout_thresholds.XYZ"),
        ({"payout_thresholds": {"eur": 100}}, "payout_thresholds.eur"),
        ({"payout_thresholds": {"EUR": -1}}, "payout_thresholds[...]"),
        ({"payout_thresholds": {"EUR": 2**60}}, "payout_thresholds[...]"),
        ({"holding_days": -1}, "holding_days"),
        ({"holding_days": 3651}, "holding_days"),
        ({"create_key": "yes"}, "create_key"),
        ({"nickname": "anna"}, "nickname"),
    ],
)
async def test_invalid_affiliate_is_422_naming_the_field(
    client: httpx.AsyncClient, marketer: dict[str, str], fields: dict[str, Any], field: str
) -> None:
    response = await client.post("/v1/affiliates", json={**ANNA, **fields}, headers=marketer)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


async def test_zero_percent_commission_is_a_valid_plan(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    created = await create_affiliate(client, marketer, commission={"percent": 0, "fixed": 250})
    assert created["commission"] == {"percent": "0.00", "fixed": 250, "plan_id": None}


async def test_create_key_returns_a_working_affiliate_key_once(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    created = await create_affiliate(client, marketer, create_key=True)
    key = created["key"]
    assert key.startswith("pk_")
    whoami = await client.get("/v1/key", headers=bearer(key))
    assert whoami.status_code == 200
    assert whoami.json()["role"] == "affiliate"
    assert whoami.json()["affiliate_id"] == created["id"]
    fetched = await client.get(f"/v1/affiliates/{created['id']}", headers=marketer)
    assert "key" not in fetched.json()


async def test_list_pages_in_creation_order_and_filters_on_active(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    ids = [
        (
            await create_affiliate(
                client, marketer, name=f"Affiliate {i}", email=f"affiliate{i}@example.com"
            )
        )["id"]
        for i in range(5)
    ]
    await client.patch(f"/v1/affiliates/{ids[1]}", json={"active": False}, headers=marketer)

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/affiliates", params=params, headers=marketer)).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [i for i in seen if i in ids] == ids

    inactive = await client.get("/v1/affiliates", params={"active": "false"}, headers=marketer)
    assert [a["id"] for a in inactive.json()["items"] if a["id"] in ids] == [ids[1]]
    active = await client.get("/v1/affiliates", params={"active": "true"}, headers=marketer)
    assert ids[1] not in {a["id"] for a in active.json()["items"]}

    garbage = await client.get("/v1/affiliates", params={"cursor": "nope"}, headers=marketer)
    assert garbage.status_code == 422
    assert garbage.json()["code"] == "invalid_cursor"


async def test_patch_changes_only_the_fields_sent(
    client: httpx.AsyncClient, marketer: dict[str, str], db: AsyncSession, clock: FrozenClock
) -> None:
    created = await create_affiliate(client, marketer)
    clock.advance(hours=1)
    response = await client.patch(
        f"/v1/affiliates/{created['id']}",
        json={"email": "anna@Example.com", "holding_days": 0, "payout_thresholds": {"USD": 0}},
        headers=marketer,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["email"] == "anna@Example.com"
    assert body["holding_days"] == 0
    assert body["payout_thresholds"] == {"USD": 0}
    assert body["name"] == created["name"]
    assert body["commission"] == created["commission"]
    assert body["updated_at"] > created["updated_at"]
    row = await db.get(Affiliate, decode(Kind.AFFILIATE, created["id"]))
    assert row is not None
    await db.refresh(row)
    assert row.email_key == "anna@example.com"

    cleared = await client.patch(
        f"/v1/affiliates/{created['id']}", json={"commission": None}, headers=marketer
    )
    assert cleared.json()["commission"] is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"commission": {"percent": "1.001"}}, "commission.percent"),
        ({"payout_thresholds": {"ABC": 1}}, "payout_thresholds.ABC"),
        ({"holding_days": 99999}, "holding_days"),
        ({"active": "no"}, "active"),
        ({"id": "aff_x"}, "id"),
    ],
)
async def test_invalid_patch_is_422_naming_the_field(
    client: httpx.AsyncClient, marketer: dict[str, str], fields: dict[str, Any], field: str
) -> None:
    created = await create_affiliate(client, marketer)
    response = await client.patch(f"/v1/affiliates/{created['id']}", json=fields, headers=marketer)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


@pytest.mark.parametrize(
    "affiliate_id", ["aff_nope", encode(Kind.CAMPAIGN, 1), encode(Kind.AFFILIATE, 999_999_999)]
)
async def test_unknown_affiliate_is_404(
    client: httpx.AsyncClient, marketer: dict[str, str], affiliate_id: str
) -> None:
    for method in ("GET", "PATCH"):
        response = await client.request(
            method, f"/v1/affiliates/{affiliate_id}", json={}, headers=marketer
        )
        assert response.status_code == 404
        assert response.json()["code"] == "affiliate_not_found"


async def test_deactivation_refuses_its_keys_and_disables_its_codes(
    client: httpx.AsyncClient, marketer: dict[str, str], checkout: dict[str, str]
) -> None:
    affiliate = await create_affiliate(client, marketer, create_key=True)
    campaign = await create_campaign(client, marketer)
    await create_code(client, marketer, campaign["id"], "ANNA10", affiliate_id=affiliate["id"])
    body = {"code": "anna10", "cart": cart(item("TSHIRT-1", 1, 2500))}
    before = await client.post("/v1/validations", json=body, headers=checkout)
    assert before.json()["valid"] is True

    response = await client.patch(
        f"/v1/affiliates/{affiliate['id']}", json={"active": False}, headers=marketer
    )
    assert response.status_code == 200
    assert response.json()["active"] is False

    assert (await client.get("/v1/key", headers=bearer(affiliate["key"]))).status_code == 401
    assert (await client.get("/v1/me", headers=bearer(affiliate["key"]))).status_code == 401
    after = await client.post("/v1/validations", json=body, headers=checkout)
    assert after.json()["valid"] is False
    assert after.json()["reason"] == "code_disabled"

    reactivated = await client.patch(
        f"/v1/affiliates/{affiliate['id']}", json={"active": True}, headers=marketer
    )
    assert reactivated.json()["active"] is True
    assert (await client.get("/v1/key", headers=bearer(affiliate["key"]))).status_code == 200


async def test_affiliate_buying_through_its_own_code_is_self_referral(
    client: httpx.AsyncClient, marketer: dict[str, str], checkout: dict[str, str]
) -> None:
    affiliate = await create_affiliate(client, marketer)
    campaign = await create_campaign(client, marketer)
    await create_code(client, marketer, campaign["id"], "ANNA10", affiliate_id=affiliate["id"])
    response = await client.post(
        "/v1/validations",
        json={
            "code": "ANNA10",
            "customer_email": "annasmith+shop@googlemail.com",
            "cart": cart(item("TSHIRT-1", 1, 2500)),
        },
        headers=checkout,
    )
    assert response.json()["reason"] == "self_referral"


async def test_an_affiliate_key_cannot_reach_the_affiliates_routes(
    client: httpx.AsyncClient, marketer: dict[str, str], keys: dict[Role, str]
) -> None:
    other = await create_affiliate(client, marketer, name="Other")
    own = bearer(keys[Role.AFFILIATE])
    for method, path in (
        ("GET", "/v1/affiliates"),
        ("GET", f"/v1/affiliates/{other['id']}"),
        ("PATCH", f"/v1/affiliates/{other['id']}"),
        ("POST", f"/v1/affiliates/{other['id']}/codes"),
    ):
        response = await client.request(method, path, json={}, headers=own)
        assert response.status_code == 403, (method, path)


async def test_me_shows_the_calling_affiliate_only(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    anna = await create_affiliate(client, marketer, create_key=True)
    bob = await create_affiliate(client, marketer, name="Bob", email="bob@example.com")
    response = await client.get("/v1/me", headers=bearer(anna["key"]))
    assert response.status_code == 200
    assert response.json() == {k: v for k, v in anna.items() if k != "key"}
    assert bob["id"] not in response.text


async def test_me_with_a_key_bound_to_no_affiliate_is_404(
    client: httpx.AsyncClient, keys: dict[Role, str]
) -> None:
    response = await client.get("/v1/me", headers=bearer(keys[Role.ADMIN]))
    assert response.status_code == 404
    assert response.json()["code"] == "affiliate_not_found"


@pytest.mark.parametrize(
    "spelling", ["Anna.Smith+promo@GMail.com", "annasmith@googlemail.com", "AnnaSmith+x@gmail.com"]
)
async def test_a_second_affiliate_with_the_same_canonical_email_is_409(
    client: httpx.AsyncClient, marketer: dict[str, str], spelling: str
) -> None:
    first = await create_affiliate(client, marketer)
    response = await client.post(
        "/v1/affiliates", json={"name": "Anna again", "email": spelling}, headers=marketer
    )
    assert response.status_code == 409, response.text
    problem = response.json()
    assert problem["code"] == "affiliate_email_taken"
    assert problem["errors"][0]["field"] == "email"
    listed = await client.get("/v1/affiliates", params={"limit": 500}, headers=marketer)
    names = [a["name"] for a in listed.json()["items"]]
    assert "Anna again" not in names
    assert first["name"] in names


async def test_patching_onto_another_affiliates_email_is_409_onto_its_own_is_fine(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    anna = await create_affiliate(client, marketer)
    bob = await create_affiliate(client, marketer, name="Bob", email="bob@example.com")
    taken = await client.patch(
        f"/v1/affiliates/{bob['id']}", json={"email": "anna.smith@gmail.com"}, headers=marketer
    )
    assert taken.status_code == 409, taken.text
    assert taken.json()["code"] == "affiliate_email_taken"
    assert taken.json()["errors"][0]["field"] == "email"
    kept = await client.get(f"/v1/affiliates/{bob['id']}", headers=marketer)
    assert kept.json()["email"] == "bob@example.com"

    respelled = await client.patch(
        f"/v1/affiliates/{anna['id']}", json={"email": "annasmith@gmail.com"}, headers=marketer
    )
    assert respelled.status_code == 200, respelled.text
    assert respelled.json()["email"] == "annasmith@gmail.com"
