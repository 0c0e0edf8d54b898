"""The channel label of codes: set by the marketer on any code, by an affiliate on its own."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.api import create_affiliate, create_campaign, create_code
from tests.support.factories import bearer


@pytest.fixture
async def world(client: httpx.AsyncClient, marketer: dict[str, str]) -> dict[str, Any]:
    campaign = await create_campaign(
        client, marketer, ends_at=None, open_to_affiliates=True, affiliate_aliases=True
    )
    anna = await create_affiliate(client, marketer, "Anna", create_key=True)
    bob = await create_affiliate(client, marketer, "Bob", create_key=True)
    return {
        "campaign": campaign,
        "anna": anna,
        "bob": bob,
        "keys": {"anna": bearer(anna["key"]), "bob": bearer(bob["key"])},
    }


async def test_a_vanity_code_takes_its_channel_lower_cased(
    client: httpx.AsyncClient, marketer: dict[str, str], world: dict[str, Any]
) -> None:
    code = await create_code(
        client, marketer, world["campaign"]["id"], "SUMMER20", channel="News_Letter-2"
    )
    assert code["channel"] == "news_letter-2"
    found = await client.get("/v1/codes/summer-20", headers=marketer)
    assert found.json()["channel"] == "news_letter-2"
    plain = await create_code(client, marketer, world["campaign"]["id"], "PLAIN20")
    assert plain["channel"] is None


async def test_the_marketer_relabels_or_clears_a_code(
    client: httpx.AsyncClient, marketer: dict[str, str], world: dict[str, Any]
) -> None:
    await create_code(client, marketer, world["campaign"]["id"], "SUMMER20")
    relabelled = await client.patch(
        "/v1/codes/SUMMER20", json={"channel": "YouTube"}, headers=marketer
    )
    assert relabelled.status_code == 200, relabelled.text
    assert relabelled.json()["channel"] == "youtube"
    untouched = await client.patch("/v1/codes/SUMMER20", json={"active": False}, headers=marketer)
    assert untouched.json()["channel"] == "youtube"
    cleared = await client.patch("/v1/codes/SUMMER20", json={"channel": None}, headers=marketer)
    assert cleared.json()["channel"] is None


@pytest.mark.parametrize(
    "channel", ["insta gram", "-instagram", "", "x" * 33, "ïnstagram", "insta/gram", 7]
)
async def test_a_channel_that_is_no_token_is_422_naming_it(
    client: httpx.AsyncClient, marketer: dict[str, str], world: dict[str, Any], channel: object
) -> None:
    campaign_id = world["campaign"]["id"]
    created = await client.post(
        f"/v1/campaigns/{campaign_id}/codes",
        json={"code": "SUMMER20", "channel": channel},
        headers=marketer,
    )
    assert created.status_code == 422, created.text
    assert created.json()["errors"][0]["field"] == "channel"
    await create_code(client, marketer, campaign_id, "SUMMER20")
    patched = await client.patch("/v1/codes/SUMMER20", json={"channel": channel}, headers=marketer)
    assert patched.status_code == 422
    assert patched.json()["errors"][0]["field"] == "channel"


async def test_a_dedicated_code_or_its_alias_takes_the_channel_asked_with_it(
    client: httpx.AsyncClient, marketer: dict[str, str], world: dict[str, Any]
) -> None:
    path = f"/v1/affiliates/{world['anna']['id']}/codes"
    campaign_id = world["campaign"]["id"]
    first = await client.post(
        path, json={"campaign_id": campaign_id, "channel": "Podcast"}, headers=marketer
    )
    assert first.status_code == 201, first.text
    assert first.json()["code"]["channel"] == "podcast"
    aliased = await client.post(
        path,
        json={"campaign_id": campaign_id, "alias": "SUMMER-ANNA", "channel": "instagram"},
        headers=marketer,
    )
    assert aliased.status_code == 201, aliased.text
    assert aliased.json()["code"]["channel"] == "podcast"
    assert aliased.json()["alias"]["channel"] == "instagram"
    again = await client.post(path, json={"campaign_id": campaign_id}, headers=marketer)
    assert again.status_code == 200
    assert again.json()["code"]["channel"] == "podcast", "no channel asked: left as it is"


async def test_an_affiliate_labels_its_own_codes_only(
    client: httpx.AsyncClient, marketer: dict[str, str], world: dict[str, Any]
) -> None:
    anna, bob = world["keys"]["anna"], world["keys"]["bob"]
    campaign_id = world["campaign"]["id"]
    mine = await client.post(
        "/v1/me/codes", json={"campaign_id": campaign_id, "channel": "TikTok"}, headers=anna
    )
    assert mine.status_code == 201, mine.text
    code = mine.json()["code"]["code"]
    assert mine.json()["code"]["channel"] == "tiktok"

    relabelled = await client.patch(f"/v1/me/codes/{code}", json={"channel": "blog"}, headers=anna)
    assert relabelled.status_code == 200, relabelled.text
    assert relabelled.json()["channel"] == "blog"
    listed = await client.get("/v1/me/codes", headers=anna)
    assert [c["channel"] for c in listed.json()["items"]] == ["blog"]

    # Bob's code, a shop code and a code that does not exist all look the same to Anna.
    bobs = await client.post("/v1/me/codes", json={"campaign_id": campaign_id}, headers=bob)
    await create_code(client, marketer, campaign_id, "SHOP20")
    for other in (bobs.json()["code"]["code"], "SHOP20", "NOSUCH99"):
        refused = await client.patch(
            f"/v1/me/codes/{other}", json={"channel": "spam"}, headers=anna
        )
        assert refused.status_code == 404, refused.text
        assert refused.json()["code"] == "code_not_found"
    assert (await client.get("/v1/codes/SHOP20", headers=marketer)).json()["channel"] is None

    cleared = await client.patch(f"/v1/me/codes/{code}", json={"channel": None}, headers=anna)
    assert cleared.json()["channel"] is None
    missing = await client.patch(f"/v1/me/codes/{code}", json={}, headers=anna)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "channel"


async def test_an_affiliates_relabelling_is_audited_with_its_key(
    client: httpx.AsyncClient, world: dict[str, Any], keys: dict[Any, str]
) -> None:
    from promo.auth.roles import Role

    anna = world["keys"]["anna"]
    mine = await client.post(
        "/v1/me/codes", json={"campaign_id": world["campaign"]["id"]}, headers=anna
    )
    code = mine.json()["code"]["code"]
    await client.patch(f"/v1/me/codes/{code}", json={"channel": "blog"}, headers=anna)
    audit = await client.get("/v1/audit", headers=bearer(keys[Role.ADMIN]))
    entry = next(e for e in audit.json()["items"] if e["action"] == "code.update")
    assert entry["role"] == "affiliate"
    assert entry["target"] == code
    assert entry["details"] == {"channel": "blog"}
