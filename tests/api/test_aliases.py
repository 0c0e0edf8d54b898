"""Affiliates' aliases: off unless the campaign allows them; then they begin with its
code prefix, stay out of every live batch pattern's space, are limited per affiliate
and campaign, are audited, and probing for taken ones is throttled."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.app import build_throttle
from promo.auth.roles import Role
from promo.codes.models import Code
from promo.ids import Kind, decode
from promo.settings import Settings
from tests.conftest import make_settings
from tests.support.api import SUMMER, create_affiliate, create_campaign, create_code, merged
from tests.support.factories import bearer

OPEN_WITH_ALIASES = {"open_to_affiliates": True, "affiliate_aliases": True}


async def ask(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    campaign_id: str,
    alias: str,
    affiliate_id: str | None = None,
) -> httpx.Response:
    """A marketer's request for ``affiliate_id``, or the affiliate's own (``None``)."""
    path = "/v1/me/codes" if affiliate_id is None else f"/v1/affiliates/{affiliate_id}/codes"
    return await client.post(
        path, json={"campaign_id": campaign_id, "alias": alias}, headers=headers
    )


async def codes_of(db: AsyncSession, affiliate: dict[str, Any]) -> int:
    count = await db.scalar(
        select(func.count())
        .select_from(Code)
        .where(Code.affiliate_id == decode(Kind.AFFILIATE, affiliate["id"]))
    )
    return int(count or 0)


@pytest.fixture
async def anna(client: httpx.AsyncClient, marketer: dict[str, str]) -> dict[str, Any]:
    return await create_affiliate(client, marketer, "Anna", create_key=True)


async def test_aliases_are_refused_unless_the_campaign_allows_them(
    client: httpx.AsyncClient, marketer: dict[str, str], anna: dict[str, Any], db: AsyncSession
) -> None:
    campaign = await create_campaign(client, marketer, open_to_affiliates=True)
    assert campaign["affiliate_aliases"] is False
    assert campaign["max_aliases_per_affiliate"] == 1
    for headers, affiliate_id in ((bearer(anna["key"]), None), (marketer, anna["id"])):
        response = await ask(client, headers, campaign["id"], "SUMMERANNA", affiliate_id)
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "aliases_not_allowed"
    assert await codes_of(db, anna) == 0, "a refused alias grants no dedicated code either"

    allowed = await client.patch(
        f"/v1/campaigns/{campaign['id']}", json={"affiliate_aliases": True}, headers=marketer
    )
    assert allowed.json()["affiliate_aliases"] is True
    response = await ask(client, bearer(anna["key"]), campaign["id"], "SUMMERANNA")
    assert response.status_code == 201, response.text
    assert response.json()["alias"]["canonical"] == "SUMMERANNA"


async def test_affiliates_see_whether_a_campaign_takes_aliases(
    client: httpx.AsyncClient, marketer: dict[str, str], anna: dict[str, Any]
) -> None:
    campaign = await create_campaign(
        client, marketer, max_aliases_per_affiliate=3, **OPEN_WITH_ALIASES
    )
    listed = await client.get("/v1/me/campaigns", headers=bearer(anna["key"]))
    mine = next(c for c in listed.json()["items"] if c["id"] == campaign["id"])
    assert (mine["affiliate_aliases"], mine["max_aliases_per_affiliate"]) == (True, 3)


async def test_aliases_need_a_code_prefix(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    body = merged(SUMMER, {"code_prefix": None, "affiliate_aliases": True})
    response = await client.post("/v1/campaigns", json=body, headers=marketer)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "code_prefix"

    campaign = await create_campaign(client, marketer, affiliate_aliases=True)
    cleared = await client.patch(
        f"/v1/campaigns/{campaign['id']}", json={"code_prefix": None}, headers=marketer
    )
    assert cleared.status_code == 422, cleared.text
    assert cleared.json()["errors"][0]["field"] == "code_prefix"


@pytest.mark.parametrize("alias", ["ANNA10", "SUMMER", "SUMME-ANNA", "X-SUMMER-ANNA"])
async def test_an_alias_not_beginning_with_the_prefix_is_422(
    client: httpx.AsyncClient, marketer: dict[str, str], anna: dict[str, Any], alias: str
) -> None:
    campaign = await create_campaign(client, marketer, **OPEN_WITH_ALIASES)
    response = await ask(client, bearer(anna["key"]), campaign["id"], alias)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "alias_prefix_mismatch"
    assert response.json()["errors"][0]["field"] == "alias"


async def test_the_prefix_is_compared_on_the_canonical_form(
    client: httpx.AsyncClient, marketer: dict[str, str], anna: dict[str, Any]
) -> None:
    campaign = await create_campaign(client, marketer, code_prefix="SOLO", **OPEN_WITH_ALIASES)
    response = await ask(client, bearer(anna["key"]), campaign["id"], "s0l0-anna")
    assert response.status_code == 201, response.text
    assert response.json()["alias"]["canonical"] == "S010ANNA"


async def test_aliases_are_limited_per_affiliate_and_campaign(
    client: httpx.AsyncClient, marketer: dict[str, str], anna: dict[str, Any]
) -> None:
    campaign = await create_campaign(client, marketer, **OPEN_WITH_ALIASES)
    own = bearer(anna["key"])
    assert (await ask(client, own, campaign["id"], "SUMMER-ANNA")).status_code == 201
    again = await ask(client, own, campaign["id"], "summer anna")
    assert again.status_code == 200, "its own alias again is no new alias"

    over = await ask(client, own, campaign["id"], "SUMMER-ANNA-2")
    assert over.status_code == 409, over.text
    assert over.json()["code"] == "alias_limit_reached"
    assert over.json()["max_aliases_per_affiliate"] == 1

    bob = await create_affiliate(client, marketer, "Bob")
    assert (await ask(client, marketer, campaign["id"], "SUMMER-BOB", bob["id"])).status_code == 201
    other = await create_campaign(client, marketer, name="Other", **OPEN_WITH_ALIASES)
    assert (await ask(client, own, other["id"], "SUMMER-ANNA-3")).status_code == 201

    await client.patch(
        f"/v1/campaigns/{campaign['id']}", json={"max_aliases_per_affiliate": 2}, headers=marketer
    )
    assert (await ask(client, own, campaign["id"], "SUMMER-ANNA-2")).status_code == 201
    third = await ask(client, marketer, campaign["id"], "SUMMER-ANNA-4", anna["id"])
    assert (third.status_code, third.json()["code"]) == (409, "alias_limit_reached")


async def batch(
    client: httpx.AsyncClient, marketer: dict[str, str], campaign_id: str, pattern: str
) -> None:
    response = await client.post(
        f"/v1/campaigns/{campaign_id}/code-batches",
        json={"count": 1, "pattern": pattern, "charset": "digits"},
        headers=marketer,
    )
    assert response.status_code == 201, response.text


async def test_an_alias_in_a_live_batch_patterns_space_is_refused(
    client: httpx.AsyncClient, marketer: dict[str, str], anna: dict[str, Any]
) -> None:
    campaign = await create_campaign(
        client, marketer, max_aliases_per_affiliate=5, **OPEN_WITH_ALIASES
    )
    await batch(client, marketer, campaign["id"], "SUMMER-####")
    elsewhere = await create_campaign(client, marketer, name="Elsewhere", code_prefix="ELSE")
    await batch(client, marketer, elsewhere["id"], "summer-x-####")
    archived = await create_campaign(client, marketer, name="Gone", code_prefix="GONE")
    await batch(client, marketer, archived["id"], "SUMMER-Z-####")
    await client.patch(
        f"/v1/campaigns/{archived['id']}", json={"status": "archived"}, headers=marketer
    )
    own = bearer(anna["key"])

    for alias in ("summer-1234", "SUMMER 0000", "Summer-X-42-42", "SUMMERX0O0O"):
        response = await ask(client, own, campaign["id"], alias)
        assert response.status_code == 422, (alias, response.text)
        assert response.json()["code"] == "alias_in_batch_space"
        assert response.json()["errors"][0]["field"] == "alias"
        assert "#" not in response.json()["detail"], "the pattern itself is not shown"

    # Outside every live space: another character, another length, an archived pattern.
    for alias in ("SUMMER-12A4", "SUMMER-12345", "SUMMER-Z-1234"):
        response = await ask(client, own, campaign["id"], alias)
        assert response.status_code == 201, (alias, response.text)


async def audit_of(client: httpx.AsyncClient, admin: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get("/v1/audit", params={"limit": 500}, headers=admin)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_alias_creation_is_audited_with_who_asked(
    client: httpx.AsyncClient,
    marketer: dict[str, str],
    anna: dict[str, Any],
    keys: dict[Role, str],
) -> None:
    admin = bearer(keys[Role.ADMIN])
    campaign = await create_campaign(
        client, marketer, max_aliases_per_affiliate=2, **OPEN_WITH_ALIASES
    )
    own = bearer(anna["key"])
    assert (await ask(client, own, campaign["id"], "Summer-Anna")).status_code == 201
    assert (await ask(client, own, campaign["id"], "SUMMERANNA")).status_code == 200
    by_marketer = await ask(client, marketer, campaign["id"], "Summer-Anna-2", anna["id"])
    assert by_marketer.status_code == 201

    entries = [e for e in await audit_of(client, admin) if e["action"] == "code.alias"]
    key_of = {
        name: (await client.get("/v1/key", headers=headers)).json()["id"]
        for name, headers in (("anna", own), ("marketer", marketer))
    }
    assert [(e["role"], e["key_id"], e["target"]) for e in entries] == [
        ("affiliate", key_of["anna"], "Summer-Anna"),
        ("marketer", key_of["marketer"], "Summer-Anna-2"),
    ], "one line per new alias, none for asking again"
    assert entries[0]["details"] == {
        "campaign_id": campaign["id"],
        "affiliate_id": anna["id"],
        "alias": "Summer-Anna",
    }


async def test_probing_for_taken_aliases_ends_in_429(
    client: httpx.AsyncClient,
    marketer: dict[str, str],
    anna: dict[str, Any],
    app: Litestar,
    settings: Settings,
) -> None:
    budget = 5
    app.state.throttle = build_throttle(
        make_settings(settings.database_url, throttle_failures_per_key=budget)
    )
    campaign = await create_campaign(client, marketer, **OPEN_WITH_ALIASES)
    for i in range(budget + 1):
        await create_code(client, marketer, campaign["id"], f"SUMMERTAKEN{i}")
    own = bearer(anna["key"])

    answers = [
        (await ask(client, own, campaign["id"], f"SUMMERTAKEN{i}")).json()["code"]
        for i in range(budget + 1)
    ]
    assert answers == ["alias_taken"] * budget + ["too_many_failed_attempts"]
    refused = await ask(client, own, campaign["id"], "SUMMER-FREE")
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers
    # The marketer, another key, is not held back by the affiliate's guesses.
    assert (
        await ask(client, marketer, campaign["id"], "SUMMER-FREE", anna["id"])
    ).status_code == 201
