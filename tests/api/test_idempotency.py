"""Idempotency-Key on money POSTs: required, replayed byte for byte, never a second effect.

Keys are scoped to the caller's role (and affiliate) and to the operation.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from promo.auth.roles import Role
from tests.support.api import (
    cart,
    create_campaign,
    create_code,
    item,
    redeem,
    rollback,
    usage_of,
    with_key,
)
from tests.support.clock import FrozenClock
from tests.support.factories import bearer, make_key

TSHIRTS = cart(item("TSHIRT-1", 2, 2500, "summer"), item("GIFT-CARD", 1, 5000))
REPLAYED = "Idempotent-Replayed"


def order(order_id: str = "ord_1", code: str = "SUMMER20", **fields: Any) -> dict[str, Any]:
    return {"code": code, "cart": TSHIRTS, "order_id": order_id, **fields}


@pytest.fixture
async def summer(client: httpx.AsyncClient, marketer: dict[str, str]) -> dict[str, Any]:
    campaign = await create_campaign(client, marketer)
    await create_code(client, marketer, campaign["id"], "SUMMER20")
    return campaign


async def redemptions_of(
    client: httpx.AsyncClient, checkout: dict[str, str], order_id: str
) -> list[dict[str, Any]]:
    response = await client.get("/v1/redemptions", params={"order_id": order_id}, headers=checkout)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


# The header itself


async def test_redemption_without_idempotency_key_is_400_and_consumes_nothing(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    summer: dict[str, Any],
) -> None:
    response = await client.post("/v1/redemptions", json=order(), headers=checkout)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "idempotency_key_required"
    assert await redemptions_of(client, checkout, "ord_1") == []
    assert (await usage_of(client, marketer, summer["id"]))["redemptions"] == 0


async def test_blank_idempotency_key_counts_as_missing(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any]
) -> None:
    response = await redeem(client, checkout, key="   ", **order())
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "idempotency_key_required"


async def test_rollback_without_idempotency_key_is_400_and_changes_nothing(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any]
) -> None:
    redeemed = (await redeem(client, checkout, **order())).json()
    response = await client.post(
        f"/v1/redemptions/{redeemed['id']}/rollback", json={}, headers=checkout
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "idempotency_key_required"
    assert (await redemptions_of(client, checkout, "ord_1"))[0]["status"] == "active"


async def test_idempotency_key_longer_than_255_characters_is_422(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any]
) -> None:
    response = await redeem(client, checkout, key="k" * 256, **order())
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await redemptions_of(client, checkout, "ord_1") == []
    longest = await redeem(client, checkout, key="k" * 255, **order())
    assert longest.status_code == 201, longest.text


# Replays


async def test_same_key_and_body_replays_the_first_response_without_a_second_redemption(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    summer: dict[str, Any],
) -> None:
    key = str(uuid.uuid4())
    first = await redeem(client, checkout, key=key, **order())
    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers
    for _ in range(2):
        again = await redeem(client, checkout, key=key, **order())
        assert again.status_code == 201
        assert again.content == first.content
        assert again.headers[REPLAYED] == "true"
        assert again.headers["content-type"] == first.headers["content-type"]
    assert len(await redemptions_of(client, checkout, "ord_1")) == 1
    assert await usage_of(client, marketer, summer["id"], "SUMMER20") == {
        "redemptions": 1,
        "budget_used": 1000,
        "SUMMER20": 1,
    }


async def test_a_day_later_the_key_still_replays(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    clock: FrozenClock,
    summer: dict[str, Any],
) -> None:
    key = str(uuid.uuid4())
    first = await redeem(client, checkout, key=key, **order())
    assert first.status_code == 201, first.text
    clock.advance(hours=24)
    again = await redeem(client, checkout, key=key, **order())
    assert (again.status_code, again.headers[REPLAYED]) == (201, "true")
    assert again.content == first.content
    assert len(await redemptions_of(client, checkout, "ord_1")) == 1


async def test_replay_ignores_key_order_and_whitespace_of_the_json(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any]
) -> None:
    key = str(uuid.uuid4())
    body = order(customer_id="cus_1")
    first = await client.post(
        "/v1/redemptions",
        content=json.dumps(body, separators=(",", ":")).encode(),
        headers={**with_key(checkout, key), "Content-Type": "application/json"},
    )
    assert first.status_code == 201, first.text
    reordered = dict(reversed(list(body.items())))
    reordered["cart"] = dict(reversed(list(body["cart"].items())))
    again = await client.post(
        "/v1/redemptions",
        content=json.dumps(reordered, indent=4).encode(),
        headers={**with_key(checkout, key), "Content-Type": "application/json"},
    )
    assert again.status_code == 201, again.text
    assert again.headers[REPLAYED] == "true"
    assert again.content == first.content
    assert len(await redemptions_of(client, checkout, "ord_1")) == 1


async def test_same_key_with_another_body_is_422_and_consumes_nothing(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    summer: dict[str, Any],
) -> None:
    key = str(uuid.uuid4())
    assert (await redeem(client, checkout, key=key, **order())).status_code == 201
    other = await redeem(client, checkout, key=key, **order(order_id="ord_2"))
    assert other.status_code == 422, other.text
    assert other.json()["code"] == "idempotency_key_reused"
    assert REPLAYED not in other.headers
    assert await redemptions_of(client, checkout, "ord_2") == []
    assert (await usage_of(client, marketer, summer["id"]))["redemptions"] == 1
    # The key still answers its own request.
    replay = await redeem(client, checkout, key=key, **order())
    assert replay.status_code == 201
    assert replay.headers[REPLAYED] == "true"


async def test_a_refusal_is_replayed_even_after_the_code_is_created(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
) -> None:
    key = str(uuid.uuid4())
    body = order(code="LATECOMER")
    first = await redeem(client, checkout, key=key, **body)
    assert first.status_code == 409, first.text
    assert first.json()["code"] == "code_not_found"

    campaign = await create_campaign(client, marketer)
    await create_code(client, marketer, campaign["id"], "LATECOMER")
    again = await redeem(client, checkout, key=key, **body)
    assert again.status_code == 409, again.text
    assert again.headers[REPLAYED] == "true"
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.content == first.content
    assert (await usage_of(client, marketer, campaign["id"], "LATECOMER"))["LATECOMER"] == 0
    # A new key is a new request, and now it succeeds.
    fresh = await redeem(client, checkout, **body)
    assert fresh.status_code == 201, fresh.text


async def test_a_limit_refusal_is_replayed_after_the_limit_is_freed(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
) -> None:
    campaign = await create_campaign(client, marketer)
    await create_code(client, marketer, campaign["id"], "SINGLE", max_redemptions=1)
    used = (await redeem(client, checkout, **order(order_id="ord_a", code="SINGLE"))).json()
    key = str(uuid.uuid4())
    refused = await redeem(client, checkout, key=key, **order(order_id="ord_b", code="SINGLE"))
    assert refused.json()["code"] == "code_exhausted"
    assert (await rollback(client, checkout, used["id"])).status_code == 200
    again = await redeem(client, checkout, key=key, **order(order_id="ord_b", code="SINGLE"))
    assert (again.status_code, again.headers[REPLAYED]) == (409, "true")
    assert again.json()["code"] == "code_exhausted"
    assert await redemptions_of(client, checkout, "ord_b") == []


# Scopes


async def test_same_key_from_admin_and_checkout_are_independent(
    client: httpx.AsyncClient,
    keys: dict[Role, str],
    checkout: dict[str, str],
    marketer: dict[str, str],
    summer: dict[str, Any],
) -> None:
    admin = bearer(keys[Role.ADMIN])
    key = str(uuid.uuid4())
    by_admin = await redeem(client, admin, key=key, **order(order_id="ord_admin"))
    assert by_admin.status_code == 201, by_admin.text
    # Another body under the same key is no reuse for another owner...
    by_checkout = await redeem(client, checkout, key=key, **order(order_id="ord_checkout"))
    assert by_checkout.status_code == 201, by_checkout.text
    assert REPLAYED not in by_checkout.headers
    # ...while within one owner the key stays bound to its first body.
    same_body = await redeem(client, checkout, key=key, **order(order_id="ord_admin"))
    assert same_body.status_code == 422, same_body.text
    assert same_body.json()["code"] == "idempotency_key_reused"
    assert (await usage_of(client, marketer, summer["id"]))["redemptions"] == 2
    # Each owner still gets its own first answer back.
    again = await redeem(client, admin, key=key, **order(order_id="ord_admin"))
    assert (again.content, again.headers[REPLAYED]) == (by_admin.content, "true")
    again = await redeem(client, checkout, key=key, **order(order_id="ord_checkout"))
    assert (again.content, again.headers[REPLAYED]) == (by_checkout.content, "true")


async def test_same_body_and_key_from_another_role_is_a_new_request(
    client: httpx.AsyncClient,
    keys: dict[Role, str],
    checkout: dict[str, str],
    summer: dict[str, Any],
) -> None:
    key = str(uuid.uuid4())
    first = await redeem(client, bearer(keys[Role.ADMIN]), key=key, **order())
    assert first.status_code == 201, first.text
    second = await redeem(client, checkout, key=key, **order())
    assert REPLAYED not in second.headers
    assert second.status_code == 409, second.text
    assert second.json()["code"] == "order_already_redeemed"


async def test_same_key_on_a_redemption_and_a_rollback_are_independent(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any]
) -> None:
    key = str(uuid.uuid4())
    redeemed = await redeem(client, checkout, key=key, **order())
    assert redeemed.status_code == 201, redeemed.text
    undone = await rollback(client, checkout, redeemed.json()["id"], key=key)
    assert undone.status_code == 200, undone.text
    assert REPLAYED not in undone.headers
    assert undone.json()["status"] == "rolled_back"


async def test_same_key_on_rollbacks_of_two_redemptions_are_independent(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any]
) -> None:
    one = (await redeem(client, checkout, **order(order_id="ord_1"))).json()
    two = (await redeem(client, checkout, **order(order_id="ord_2"))).json()
    key = str(uuid.uuid4())
    first = await rollback(client, checkout, one["id"], key=key, amount=100)
    second = await rollback(client, checkout, two["id"], key=key, amount=100)
    assert (first.status_code, second.status_code) == (200, 200), second.text
    assert REPLAYED not in second.headers
    assert second.json()["id"] == two["id"]
    assert second.json()["refunded_amount"] == 100


async def test_two_checkout_integrations_never_see_each_others_answers(
    client: httpx.AsyncClient,
    db: AsyncSession,
    clock: FrozenClock,
    checkout: dict[str, str],
    marketer: dict[str, str],
    summer: dict[str, Any],
) -> None:
    """Keys are scoped to the API key: a second store's checkout (same role)
    sending the same Idempotency-Key and body is a new request of its own."""
    other_store = bearer(await make_key(db, Role.CHECKOUT, now=clock()))
    key = str(uuid.uuid4())
    first = await redeem(client, checkout, key=key, **order(order_id="ord_shop_a"))
    assert first.status_code == 201, first.text
    # The same body under the same key from the other store: its own answer.
    theirs = await redeem(client, other_store, key=key, **order(order_id="ord_shop_a"))
    assert REPLAYED not in theirs.headers
    assert theirs.status_code == 409
    assert theirs.json()["code"] == "order_already_redeemed"
    # Another body under that key from the other store is no reuse either.
    mine = await redeem(client, other_store, key=str(uuid.uuid4()), **order(order_id="ord_b"))
    assert mine.status_code == 201, mine.text
    again = await redeem(client, checkout, key=key, **order(order_id="ord_shop_a"))
    assert (again.content, again.headers[REPLAYED]) == (first.content, "true")
