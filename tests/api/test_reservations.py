"""POST /v1/reservations: a discount held while the shopper pays, then confirmed
as the redemption, released, or given back when it expires.

A hold consumes what a redemption consumes (the campaign's count and budget,
the code's use, the customer's use and first order); a confirmation consumes
nothing more; a release or an expiry gives all of it back, once.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.auth.roles import Role
from promo.checkout.models import CustomerOrders, CustomerUsage
from promo.ids import Kind, decode
from tests.support.api import cart, create_campaign, create_code, item, redeem, usage_of, with_key
from tests.support.clock import FrozenClock
from tests.support.factories import bearer

SHIRTS = cart(item("TSHIRT-1", 2, 2500))  # 20% of 5000: 1000 off
DISCOUNT = 1000
REPLAYED = "Idempotent-Replayed"


async def reserve(
    client: httpx.AsyncClient, headers: dict[str, str], *, key: str | None = None, **body: Any
) -> httpx.Response:
    body = {"cart": SHIRTS, **body}
    return await client.post("/v1/reservations", json=body, headers=with_key(headers, key))


async def confirm(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    reservation_id: str,
    order_id: str,
    *,
    key: str | None = None,
) -> httpx.Response:
    return await client.post(
        f"/v1/reservations/{reservation_id}/confirm",
        json={"order_id": order_id},
        headers=with_key(headers, key),
    )


async def release(
    client: httpx.AsyncClient, headers: dict[str, str], reservation_id: str
) -> httpx.Response:
    return await client.post(f"/v1/reservations/{reservation_id}/release", headers=headers)


async def run_jobs(app: Litestar) -> None:
    worker = app.state.jobs.worker
    await worker.queue_recurring()
    await worker.run_due()


@pytest.fixture
async def campaign(client: httpx.AsyncClient, marketer: dict[str, str]) -> dict[str, Any]:
    campaign = await create_campaign(
        client,
        marketer,
        limits={"max_redemptions": 10, "max_redemptions_per_customer": 1, "budget": 100_000},
    )
    await create_code(client, marketer, campaign["id"], "HOLD1", max_redemptions=1)
    await create_code(client, marketer, campaign["id"], "OTHER")
    return campaign


def nothing_used(campaign_id: str) -> dict[str, Any]:
    return {"redemptions": 0, "budget_used": 0, "HOLD1": 0}


async def usage(client: httpx.AsyncClient, marketer: dict[str, str], campaign_id: str) -> Any:
    found = await usage_of(client, marketer, campaign_id, "HOLD1")
    return {name: found[name] for name in ("redemptions", "budget_used", "HOLD1")}


async def test_a_hold_consumes_every_limit_until_it_is_released(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    campaign: dict[str, Any],
    clock: FrozenClock,
) -> None:
    validation = await client.post(
        "/v1/validations",
        json={"code": "hold1", "customer_id": "cus_1", "cart": SHIRTS},
        headers=checkout,
    )
    held = await reserve(client, checkout, code="hold1", customer_id="cus_1")
    assert held.status_code == 201, held.text
    body = held.json()
    assert body["id"].startswith("res_")
    assert body["status"] == "held"
    assert body["code"] == "HOLD1"
    assert body["discount"] == validation.json()["discount"]
    assert body["expires_at"].startswith("2026-07-01T12:15:00")  # 900 s by default
    assert await usage(client, marketer, campaign["id"]) == {
        "redemptions": 1,
        "budget_used": DISCOUNT,
        "HOLD1": 1,
    }
    # Its last use is held: others are told so, with when it may come back.
    other = await reserve(client, checkout, code="HOLD1", customer_id="cus_2")
    assert other.status_code == 409
    assert other.json()["code"] == "code_reserved"
    assert other.json()["expires_at"] == body["expires_at"].replace("Z", "+00:00")
    told = await client.post(
        "/v1/validations",
        json={"code": "HOLD1", "customer_id": "cus_2", "cart": SHIRTS},
        headers=checkout,
    )
    assert told.json()["reason"] == "code_reserved"
    # The customer's one use is held too, on every code of the campaign.
    again = await redeem(
        client, checkout, code="OTHER", customer_id="cus_1", order_id="o-1", cart=SHIRTS
    )
    assert again.json()["code"] == "customer_limit_reached"

    listed = await client.get(
        "/v1/reservations",
        params={"campaign_id": campaign["id"], "status": "held"},
        headers=marketer,
    )
    assert [r["id"] for r in listed.json()["items"]] == [body["id"]]

    released = await release(client, checkout, body["id"])
    assert released.status_code == 200, released.text
    assert released.json()["status"] == "released"
    assert await usage(client, marketer, campaign["id"]) == nothing_used(campaign["id"])
    # Idempotent: nothing is given back twice.
    assert (await release(client, checkout, body["id"])).json()["status"] == "released"
    assert await usage(client, marketer, campaign["id"]) == nothing_used(campaign["id"])
    listed = await client.get(
        "/v1/reservations",
        params={"campaign_id": campaign["id"], "status": "held"},
        headers=marketer,
    )
    assert listed.json()["items"] == []
    assert (await reserve(client, checkout, code="HOLD1", customer_id="cus_2")).status_code == 201


async def test_confirming_turns_the_hold_into_the_redemption_consuming_nothing_more(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    campaign: dict[str, Any],
    clock: FrozenClock,
) -> None:
    held = (await reserve(client, checkout, code="HOLD1", customer_id="cus_1")).json()
    clock.advance(seconds=30)
    key = str(uuid.uuid4())
    confirmed = await confirm(client, checkout, held["id"], "order-1", key=key)
    assert confirmed.status_code == 201, confirmed.text
    red = confirmed.json()
    assert red["id"].startswith("red_")
    assert red["order_id"] == "order-1"
    assert red["code"] == "HOLD1"
    assert red["discount"] == held["discount"]
    assert red["status"] == "active"
    assert await usage(client, marketer, campaign["id"]) == {
        "redemptions": 1,
        "budget_used": DISCOUNT,
        "HOLD1": 1,
    }
    # As POST /v1/redemptions answers, and readable as one.
    read = await client.get(f"/v1/redemptions/{red['id']}", headers=checkout)
    assert read.json() == red
    replay = await confirm(client, checkout, held["id"], "order-1", key=key)
    assert replay.headers.get(REPLAYED) == "true"
    assert replay.json() == red
    # Confirming again, under another key: the same redemption.
    twice = await confirm(client, checkout, held["id"], "order-1")
    assert (twice.status_code, twice.json()["id"]) == (201, red["id"])
    other = await confirm(client, checkout, held["id"], "order-2")
    assert (other.status_code, other.json()["code"]) == (409, "reservation_confirmed")
    refused = await release(client, checkout, held["id"])
    assert (refused.status_code, refused.json()["code"]) == (409, "reservation_confirmed")
    found = (await client.get(f"/v1/reservations/{held['id']}", headers=checkout)).json()
    assert (found["status"], found["order_id"], found["redemption_id"]) == (
        "confirmed",
        "order-1",
        red["id"],
    )
    # A rollback gives back what the hold took, once.
    rolled = await client.post(
        f"/v1/redemptions/{red['id']}/rollback", json={}, headers=with_key(checkout)
    )
    assert rolled.status_code == 200, rolled.text
    assert await usage(client, marketer, campaign["id"]) == nothing_used(campaign["id"])


async def test_an_expired_hold_is_given_back_and_cannot_be_confirmed(
    app: Litestar,
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    campaign: dict[str, Any],
    clock: FrozenClock,
) -> None:
    held = (
        await reserve(client, checkout, code="HOLD1", customer_id="cus_1", ttl_seconds=60)
    ).json()
    await run_jobs(app)  # not yet due
    assert (await usage(client, marketer, campaign["id"]))["HOLD1"] == 1
    clock.advance(seconds=60)
    late = await confirm(client, checkout, held["id"], "order-1")
    assert (late.status_code, late.json()["code"]) == (409, "reservation_expired")
    clock.advance(seconds=2)
    await run_jobs(app)
    assert await usage(client, marketer, campaign["id"]) == nothing_used(campaign["id"])
    found = (await client.get(f"/v1/reservations/{held['id']}", headers=checkout)).json()
    assert found["status"] == "expired"
    assert (await release(client, checkout, held["id"])).json()["status"] == "expired"
    await run_jobs(app)  # given back once
    assert await usage(client, marketer, campaign["id"]) == nothing_used(campaign["id"])
    late = await confirm(client, checkout, held["id"], "order-1")
    assert (late.status_code, late.json()["code"]) == (409, "reservation_expired")
    released = (await reserve(client, checkout, code="HOLD1", customer_id="cus_2")).json()
    await release(client, checkout, released["id"])
    late = await confirm(client, checkout, released["id"], "order-1")
    assert (late.status_code, late.json()["code"]) == (409, "reservation_released")


async def test_confirming_for_an_order_already_redeemed_leaves_the_hold(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    campaign: dict[str, Any],
) -> None:
    taken = await redeem(
        client, checkout, code="OTHER", customer_id="cus_9", order_id="order-1", cart=SHIRTS
    )
    assert taken.status_code == 201, taken.text
    held = (await reserve(client, checkout, code="HOLD1", customer_id="cus_1")).json()
    refused = await confirm(client, checkout, held["id"], "order-1")
    assert (refused.status_code, refused.json()["code"]) == (409, "order_already_redeemed")
    found = (await client.get(f"/v1/reservations/{held['id']}", headers=checkout)).json()
    assert found["status"] == "held"
    assert (await usage(client, marketer, campaign["id"]))["redemptions"] == 2
    confirmed = await confirm(client, checkout, held["id"], "order-2")
    assert confirmed.status_code == 201, confirmed.text
    assert (await usage(client, marketer, campaign["id"]))["redemptions"] == 2


async def test_bad_reservation_requests_are_refused_naming_the_field(
    client: httpx.AsyncClient, checkout: dict[str, str], campaign: dict[str, Any]
) -> None:
    too_long = await reserve(client, checkout, code="HOLD1", ttl_seconds=86_401)
    assert too_long.status_code == 422
    assert "ttl_seconds" in too_long.text
    unkeyed = await client.post(
        "/v1/reservations", json={"code": "HOLD1", "cart": SHIRTS}, headers=checkout
    )
    assert (unkeyed.status_code, unkeyed.json()["code"]) == (400, "idempotency_key_required")
    missing = await client.get("/v1/reservations/res_000000000000", headers=checkout)
    assert (missing.status_code, missing.json()["code"]) == (404, "reservation_not_found")
    with_order = await reserve(client, checkout, code="HOLD1", order_id="o-1")
    assert with_order.status_code in (400, 422)


async def test_a_hold_of_an_erased_customer_gives_back_exactly(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    keys: dict[Role, str],
    campaign: dict[str, Any],
    db: AsyncSession,
) -> None:
    held = (
        await reserve(
            client, checkout, code="HOLD1", customer_id="cus_1", customer_email="ana@example.com"
        )
    ).json()
    erased = await client.post(
        "/v1/customers/erase", json={"customer_id": "cus_1"}, headers=bearer(keys[Role.ADMIN])
    )
    assert erased.status_code == 200, erased.text
    assert held["customer_ref"] not in erased.text
    assert (await release(client, checkout, held["id"])).status_code == 200
    assert await usage(client, marketer, campaign["id"]) == nothing_used(campaign["id"])
    left = await db.scalar(
        select(func.sum(CustomerUsage.used)).where(
            CustomerUsage.campaign_id == decode(Kind.CAMPAIGN, campaign["id"])
        )
    )
    assert left == 0
    orders = await db.scalar(select(func.sum(CustomerOrders.live)))
    assert orders == 0
