"""GET /v1/campaigns/{id}/code-batches: a campaign's batches, id order, cursor pages."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from promo.auth.roles import Role
from tests.support.api import create_campaign
from tests.support.factories import bearer

Client = httpx.AsyncClient


async def new_batch(
    client: Client, headers: dict[str, str], campaign_id: str, pattern: str
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/campaigns/{campaign_id}/code-batches",
        json={"count": 3, "pattern": pattern},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    batch: dict[str, Any] = response.json()
    return batch


async def listed(
    client: Client, headers: dict[str, str], campaign_id: str, **params: Any
) -> dict[str, Any]:
    response = await client.get(
        f"/v1/campaigns/{campaign_id}/code-batches", params=params, headers=headers
    )
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def test_campaign_batches_are_listed_oldest_first_in_cursor_pages(
    client: Client, marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer)
    other = await create_campaign(client, marketer, name="Other")
    made = [await new_batch(client, marketer, campaign["id"], f"L{n}-########") for n in range(3)]
    await new_batch(client, marketer, other["id"], "LX-########")

    first = await listed(client, marketer, campaign["id"], limit=2)
    second = await listed(client, marketer, campaign["id"], limit=2, cursor=first["next_cursor"])

    assert first["items"] == made[:2]
    assert first["next_cursor"] is not None
    assert second == {"items": made[2:], "next_cursor": None}  # a short page
    assert (await listed(client, marketer, other["id"]))["items"][0]["pattern"] == "LX-########"


async def test_campaign_without_batches_lists_none(
    client: Client, marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer)
    assert await listed(client, marketer, campaign["id"]) == {"items": [], "next_cursor": None}


async def test_batches_of_an_unknown_campaign_are_404(
    client: Client, marketer: dict[str, str]
) -> None:
    response = await client.get("/v1/campaigns/cmp_nope/code-batches", headers=marketer)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("query", [{"cursor": "garbage"}, {"limit": 0}, {"limit": 100_000}])
async def test_bad_page_parameters_are_422(
    client: Client, marketer: dict[str, str], query: dict[str, Any]
) -> None:
    campaign = await create_campaign(client, marketer)
    response = await client.get(
        f"/v1/campaigns/{campaign['id']}/code-batches", params=query, headers=marketer
    )
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("role", [Role.CHECKOUT, Role.AFFILIATE, Role.ACCOUNTANT])
async def test_only_marketers_and_admins_list_batches(
    client: Client, keys: dict[Role, str], marketer: dict[str, str], role: Role
) -> None:
    campaign = await create_campaign(client, marketer)
    batch = await new_batch(client, marketer, campaign["id"], "LR-########")
    path = f"/v1/campaigns/{campaign['id']}/code-batches"
    assert (await client.get(path, headers=bearer(keys[role]))).status_code == 403
    admin = await client.get(path, headers=bearer(keys[Role.ADMIN]))
    assert admin.status_code == 200
    assert admin.json()["items"] == [batch]
