"""Affiliates' dedicated codes and aliases, asked for by a marketer or by the affiliate."""

from __future__ import annotations

import re
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from promo.app import create_app
from promo.auth.roles import Role
from promo.codes.dedicated import ALPHABET, derive_code
from promo.codes.models import Code
from promo.ids import Kind, decode, encode
from promo.settings import Settings
from tests.conftest import TEST_SECRET
from tests.support.api import cart, create_campaign, create_code, item
from tests.support.clock import FrozenClock
from tests.support.factories import bearer

OPEN = {"open_to_affiliates": True}
ALIASES = {"affiliate_aliases": True}
HASH = re.compile(f"^[{ALPHABET}]{{6,}}$")


async def new_affiliate(
    client: httpx.AsyncClient, marketer: dict[str, str], name: str = "Anna", **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/affiliates",
        json={"name": name, "email": f"{name.lower()}@example.com", **fields},
        headers=marketer,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def ask(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    affiliate_id: str | None,
    campaign_id: str,
    alias: str | None = None,
) -> httpx.Response:
    path = "/v1/me/codes" if affiliate_id is None else f"/v1/affiliates/{affiliate_id}/codes"
    return await client.post(
        path, json={"campaign_id": campaign_id, "alias": alias}, headers=headers
    )


def split(code: str) -> tuple[str, str]:
    prefix, _, body = code.rpartition("-")
    return prefix, body


async def test_dedicated_code_is_prefix_dash_hash_in_the_safe_alphabet(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer)
    anna = await new_affiliate(client, marketer)
    response = await ask(client, marketer, anna["id"], campaign["id"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["alias"] is None
    code = body["code"]
    prefix, hashed = split(code["code"])
    assert prefix == "SUMMER"
    assert HASH.match(hashed), hashed
    assert code["canonical"] == f"SUMMER{hashed}", "its canonical form is itself, dash removed"
    assert code["kind"] == "dedicated"
    assert code["affiliate_id"] == anna["id"]
    assert code["campaign_id"] == campaign["id"]
    assert code["max_redemptions"] is None
    assert code["active"] is True


async def test_without_a_prefix_the_code_is_the_hash_alone(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer, code_prefix=None)
    anna = await new_affiliate(client, marketer)
    code = (await ask(client, marketer, anna["id"], campaign["id"])).json()["code"]
    assert HASH.match(code["code"])
    assert code["canonical"] == code["code"]


async def test_asking_again_returns_the_same_code_201_then_200(
    client: httpx.AsyncClient, marketer: dict[str, str], db: AsyncSession
) -> None:
    campaign = await create_campaign(client, marketer)
    anna = await new_affiliate(client, marketer)
    first = await ask(client, marketer, anna["id"], campaign["id"])
    second = await ask(client, marketer, anna["id"], campaign["id"])
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    rows = await db.scalar(
        select(func.count())
        .select_from(Code)
        .where(Code.affiliate_id == decode(Kind.AFFILIATE, anna["id"]))
    )
    assert rows == 1


async def test_different_affiliates_and_campaigns_get_different_codes(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    summer = await create_campaign(client, marketer)
    winter = await create_campaign(client, marketer, name="Winter", code_prefix="WINTER")
    anna = await new_affiliate(client, marketer)
    bob = await new_affiliate(client, marketer, "Bob")
    codes = {
        (await ask(client, marketer, a["id"], c["id"])).json()["code"]["canonical"]
        for a in (anna, bob)
        for c in (summer, winter)
    }
    assert len(codes) == 4


async def test_the_code_validates_at_checkout_for_its_affiliate(
    client: httpx.AsyncClient, marketer: dict[str, str], checkout: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer)
    anna = await new_affiliate(client, marketer)
    code = (await ask(client, marketer, anna["id"], campaign["id"])).json()["code"]
    response = await client.post(
        "/v1/validations",
        json={"code": code["code"].lower(), "cart": cart(item("TSHIRT-1", 1, 2500))},
        headers=checkout,
    )
    assert response.json()["valid"] is True
    assert response.json()["code"] == code["code"]


def app_with_secret(
    settings: Settings,
    engine: AsyncEngine,
    connection: AsyncConnection,
    clock: FrozenClock,
    secret: str,
) -> Litestar:
    other = msgspec.structs.replace(settings, secret=secret)
    return create_app(other, engine=engine, connection=connection, clock=clock)


async def first_code_from(app: Litestar, marketer: dict[str, str], anna: str, cmp: str) -> str:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://promo.test") as client:
        response = await ask(client, marketer, anna, cmp)
    assert response.status_code == 201, response.text
    code: str = response.json()["code"]["code"]
    return code


async def test_derivation_is_stable_across_instances_and_follows_the_secret(
    client: httpx.AsyncClient,
    marketer: dict[str, str],
    db: AsyncSession,
    settings: Settings,
    engine: AsyncEngine,
    connection: AsyncConnection,
    clock: FrozenClock,
) -> None:
    campaign = await create_campaign(client, marketer)
    anna = await new_affiliate(client, marketer)
    derived: list[str] = []
    for secret in (TEST_SECRET, TEST_SECRET, "another-secret-0123456789"):
        # Forget the stored code so that each app instance derives it afresh.
        await db.execute(delete(Code).where(Code.kind == "dedicated"))
        app = app_with_secret(settings, engine, connection, clock, secret)
        derived.append(await first_code_from(app, marketer, anna["id"], campaign["id"]))
    assert derived[0] == derived[1]
    assert derived[2] != derived[0]
    campaign_id = decode(Kind.CAMPAIGN, campaign["id"])
    affiliate_id = decode(Kind.AFFILIATE, anna["id"])
    assert campaign_id is not None
    assert affiliate_id is not None
    assert derived[0] == derive_code(TEST_SECRET, "SUMMER", campaign_id, affiliate_id)


async def test_a_taken_canonical_form_leads_to_the_next_derivation(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer)
    elsewhere = await create_campaign(client, marketer, name="Elsewhere", code_prefix="X")
    anna = await new_affiliate(client, marketer)
    campaign_id = decode(Kind.CAMPAIGN, campaign["id"])
    affiliate_id = decode(Kind.AFFILIATE, anna["id"])
    assert campaign_id is not None
    assert affiliate_id is not None
    first = derive_code(TEST_SECRET, "SUMMER", campaign_id, affiliate_id)
    # A vanity code spelled differently but with the same canonical form.
    await create_code(client, marketer, elsewhere["id"], first.lower().replace("-", " "))

    code = (await ask(client, marketer, anna["id"], campaign["id"])).json()["code"]
    assert code["code"] != first
    assert code["code"] == derive_code(TEST_SECRET, "SUMMER", campaign_id, affiliate_id, 1)
    again = await ask(client, marketer, anna["id"], campaign["id"])
    assert (again.status_code, again.json()["code"]["code"]) == (200, code["code"])


async def test_alias_is_granted_once_and_validates(
    client: httpx.AsyncClient, marketer: dict[str, str], checkout: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer, **ALIASES)
    anna = await new_affiliate(client, marketer)
    await ask(client, marketer, anna["id"], campaign["id"])
    granted = await ask(client, marketer, anna["id"], campaign["id"], alias="Summer-Anna-10")
    assert granted.status_code == 201, "the alias is new"
    alias = granted.json()["alias"]
    assert (alias["code"], alias["canonical"], alias["kind"]) == (
        "Summer-Anna-10",
        "SUMMERANNA10",
        "alias",
    )
    assert alias["affiliate_id"] == anna["id"]
    assert alias["campaign_id"] == campaign["id"]

    again = await ask(client, marketer, anna["id"], campaign["id"], alias="summerAnna10")
    assert again.status_code == 200
    assert again.json() == granted.json()

    response = await client.post(
        "/v1/validations",
        json={"code": "SUMMER ANNA 1O", "cart": cart(item("TSHIRT-1", 1, 2500))},
        headers=checkout,
    )
    assert response.json()["valid"] is True


@pytest.mark.parametrize("taken_by", ["vanity", "other_affiliate"])
async def test_a_taken_alias_is_409_and_grants_nothing(
    client: httpx.AsyncClient, marketer: dict[str, str], db: AsyncSession, taken_by: str
) -> None:
    campaign = await create_campaign(client, marketer, **ALIASES)
    anna = await new_affiliate(client, marketer)
    if taken_by == "vanity":
        await create_code(client, marketer, campaign["id"], "SUMMERANNA10")
    else:
        bob = await new_affiliate(client, marketer, "Bob")
        bobs = await ask(client, marketer, bob["id"], campaign["id"], alias="SUMMERANNA10")
        assert bobs.status_code == 201
    response = await ask(client, marketer, anna["id"], campaign["id"], alias="summer-anna-1o")
    assert response.status_code == 409
    assert response.json()["code"] == "alias_taken"
    assert response.json()["canonical"] == "SUMMERANNA10"
    annas = await db.scalar(
        select(func.count())
        .select_from(Code)
        .where(Code.affiliate_id == decode(Kind.AFFILIATE, anna["id"]))
    )
    assert annas == 0, "the refused request created no dedicated code either"


@pytest.mark.parametrize("alias", ["AB", "ANNA%10", "x" * 40])
async def test_an_invalid_alias_is_422(
    client: httpx.AsyncClient, marketer: dict[str, str], alias: str
) -> None:
    campaign = await create_campaign(client, marketer)
    anna = await new_affiliate(client, marketer)
    response = await ask(client, marketer, anna["id"], campaign["id"], alias=alias)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "alias"


async def test_an_inactive_affiliate_gets_no_code(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer)
    anna = await new_affiliate(client, marketer)
    await client.patch(f"/v1/affiliates/{anna['id']}", json={"active": False}, headers=marketer)
    response = await ask(client, marketer, anna["id"], campaign["id"])
    assert response.status_code == 409
    assert response.json()["code"] == "affiliate_inactive"


async def test_archived_or_unknown_campaign_and_unknown_affiliate(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer)
    anna = await new_affiliate(client, marketer)
    unknown_campaign = await ask(client, marketer, anna["id"], encode(Kind.CAMPAIGN, 10**9))
    assert (unknown_campaign.status_code, unknown_campaign.json()["code"]) == (
        404,
        "campaign_not_found",
    )
    garbage = await ask(client, marketer, anna["id"], "not-an-id")
    assert garbage.status_code == 404
    unknown_affiliate = await ask(client, marketer, encode(Kind.AFFILIATE, 10**9), campaign["id"])
    assert (unknown_affiliate.status_code, unknown_affiliate.json()["code"]) == (
        404,
        "affiliate_not_found",
    )
    await client.patch(
        f"/v1/campaigns/{campaign['id']}", json={"status": "archived"}, headers=marketer
    )
    archived = await ask(client, marketer, anna["id"], campaign["id"])
    assert (archived.status_code, archived.json()["code"]) == (409, "campaign_archived")


async def test_unknown_fields_and_missing_campaign_are_422(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    anna = await new_affiliate(client, marketer)
    path = f"/v1/affiliates/{anna['id']}/codes"
    missing = await client.post(path, json={"alias": "ANNA10"}, headers=marketer)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "campaign_id"
    extra = await client.post(path, json={"campaign_id": "cmp_x", "code": "X"}, headers=marketer)
    assert extra.status_code == 422
    assert extra.json()["errors"][0]["field"] == "code"


async def test_an_affiliate_asks_for_its_own_code_on_an_open_campaign(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer, **OPEN, **ALIASES)
    anna = await new_affiliate(client, marketer, create_key=True)
    own = bearer(anna["key"])
    first = await ask(client, own, None, campaign["id"], alias="SUMMERANNA10")
    assert first.status_code == 201, first.text
    assert first.json()["code"]["affiliate_id"] == anna["id"]
    by_marketer = await ask(client, marketer, anna["id"], campaign["id"])
    assert by_marketer.status_code == 200
    assert by_marketer.json()["code"] == first.json()["code"]

    listed = await client.get("/v1/me/codes", headers=own)
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [(c["kind"], c["code"]) for c in items] == [
        ("dedicated", first.json()["code"]["code"]),
        ("alias", "SUMMERANNA10"),
    ]


@pytest.mark.parametrize("campaign_fields", [{}, {**OPEN, "status": "draft"}])
async def test_a_campaign_not_open_to_affiliates_is_refused_to_them(
    client: httpx.AsyncClient, marketer: dict[str, str], campaign_fields: dict[str, Any]
) -> None:
    campaign = await create_campaign(client, marketer, **campaign_fields)
    anna = await new_affiliate(client, marketer, create_key=True)
    response = await ask(client, bearer(anna["key"]), None, campaign["id"])
    assert response.status_code == 403
    assert response.json()["code"] == "campaign_not_open"
    # The marketer may still hand one out.
    assert (await ask(client, marketer, anna["id"], campaign["id"])).status_code == 201


async def test_my_codes_are_only_mine_paged_and_filtered_by_campaign(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    summer = await create_campaign(client, marketer, **OPEN)
    winter = await create_campaign(client, marketer, name="Winter", code_prefix="WIN", **OPEN)
    anna = await new_affiliate(client, marketer, create_key=True)
    bob = await new_affiliate(client, marketer, "Bob", create_key=True)
    annas = {
        (await ask(client, bearer(anna["key"]), None, c["id"])).json()["code"]["code"]
        for c in (summer, winter)
    }
    await create_code(client, marketer, summer["id"], "ANNASTORY", affiliate_id=anna["id"])
    annas.add("ANNASTORY")
    bobs = (await ask(client, bearer(bob["key"]), None, summer["id"])).json()["code"]["code"]

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await client.get("/v1/me/codes", params=params, headers=bearer(anna["key"]))
        assert page.status_code == 200
        seen += [c["code"] for c in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert set(seen) == annas
    assert len(seen) == 3
    assert bobs not in seen

    only_winter = await client.get(
        "/v1/me/codes", params={"campaign_id": winter["id"]}, headers=bearer(anna["key"])
    )
    assert [c["campaign_id"] for c in only_winter.json()["items"]] == [winter["id"]]
    bad = await client.get(
        "/v1/me/codes", params={"campaign_id": "nope"}, headers=bearer(anna["key"])
    )
    assert bad.status_code == 404


async def test_me_routes_never_show_another_affiliate(
    client: httpx.AsyncClient, marketer: dict[str, str], keys: dict[Role, str]
) -> None:
    campaign = await create_campaign(client, marketer, **OPEN)
    anna = await new_affiliate(client, marketer, create_key=True)
    bob = await new_affiliate(client, marketer, "Bob", create_key=True)
    await ask(client, bearer(bob["key"]), None, campaign["id"])
    me = await client.get("/v1/me", headers=bearer(anna["key"]))
    assert me.json()["id"] == anna["id"]
    codes = await client.get("/v1/me/codes", headers=bearer(anna["key"]))
    assert codes.json()["items"] == []
    # There is no way to name another affiliate under /v1/me.
    smuggled = await client.post(
        "/v1/me/codes",
        json={"campaign_id": campaign["id"], "affiliate_id": bob["id"]},
        headers=bearer(anna["key"]),
    )
    assert smuggled.status_code == 422
    admin = await ask(client, bearer(keys[Role.ADMIN]), None, campaign["id"])
    assert (admin.status_code, admin.json()["code"]) == (404, "affiliate_not_found")
