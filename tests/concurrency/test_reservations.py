"""Reservations under real concurrency, on two worker processes over PostgreSQL:
holds never exceed a code's limit, expiry gives every use back exactly once
(two expiries racing), and a confirmation racing the expiry is counted once
or not at all."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from promo.auth.roles import Role
from promo.campaigns.models import Campaign
from promo.checkout.models import CustomerOrders, CustomerUsage, Reservation
from promo.checkout.reservations import expire_due
from promo.codes.models import Code
from promo.db.engine import create_sessionmaker
from promo.ids import Kind, decode
from promo.ledger.models import LedgerEntry
from tests.concurrency.conftest import Live
from tests.concurrency.test_redemption_limits import (
    fire,
    live_redemptions,
    new_campaign,
    new_code,
    scalar,
    statuses,
    unique,
)
from tests.support.api import cart, item
from tests.support.pii import ref


@pytest.fixture(autouse=True)
def on_postgresql(live: Live) -> None:
    # SQLite serialises every writer: the races of interest here are PostgreSQL's.
    if not live.settings.is_postgres:
        pytest.skip("reservations race on PostgreSQL")


async def reserve(
    http: httpx.AsyncClient, live: Live, code: str, customer: str, ttl: int
) -> httpx.Response:
    body: dict[str, Any] = {
        "code": code,
        "customer_id": customer,
        "ttl_seconds": ttl,
        "cart": cart(item("TSHIRT-1", 2, 2500)),
    }
    headers = {**live.headers[Role.CHECKOUT], "Idempotency-Key": str(uuid.uuid4())}
    return await http.post("/v1/reservations", json=body, headers=headers)


async def confirm(http: httpx.AsyncClient, live: Live, reservation_id: str) -> httpx.Response:
    headers = {**live.headers[Role.CHECKOUT], "Idempotency-Key": str(uuid.uuid4())}
    return await http.post(
        f"/v1/reservations/{reservation_id}/confirm",
        json={"order_id": unique("o")},
        headers=headers,
    )


async def expire_twice(live: Live, now: datetime) -> int:
    """Two expiries at once, as two workers whose runs overlap: how many they ended."""
    sessions = create_sessionmaker(live.engine)

    async def one() -> int:
        async with sessions() as session, session.begin():
            return await expire_due(session, now=now, limit=1000)

    first, second = await asyncio.gather(one(), one())
    return first + second


async def counters(live: Live, campaign_id: str, code: str, customers: list[str]) -> Any:
    campaign = decode(Kind.CAMPAIGN, campaign_id)
    refs = [ref(f"id:{customer}") for customer in customers]
    async with live.engine.connect() as connection:
        row = (
            await connection.execute(
                select(Campaign.redemptions_used, Campaign.budget_used).where(
                    Campaign.id == campaign
                )
            )
        ).one()
        code_used = await connection.scalar(select(Code.used).where(Code.code == code))
        customer_uses = await connection.scalar(
            select(func.coalesce(func.sum(CustomerUsage.used), 0)).where(
                CustomerUsage.campaign_id == campaign
            )
        )
        orders = await connection.scalar(
            select(func.coalesce(func.sum(CustomerOrders.live), 0)).where(
                CustomerOrders.customer_ref.in_(refs)
            )
        )
    return {
        "campaign": row.redemptions_used,
        "budget": row.budget_used,
        "code": code_used,
        "customers": customer_uses,
        "first_orders": orders,
    }


def each(count: int) -> dict[str, int]:
    return {
        "campaign": count,
        "budget": count * 1000,
        "code": count,
        "customers": count,
        "first_orders": count,
    }


async def test_holds_never_exceed_the_code_limit_and_expire_back_exactly(
    http: httpx.AsyncClient, live: Live
) -> None:
    campaign = await new_campaign(http, live, limits={"max_redemptions_per_customer": 1})
    code = await new_code(http, live, campaign["id"], max_redemptions=50)
    customers = [unique("cus") for _ in range(200)]
    responses = await fire([reserve(http, live, code, customer, 60) for customer in customers])
    assert statuses(responses) == {(201, "ok"): 50, (409, "code_reserved"): 150}
    assert await counters(live, campaign["id"], code, customers) == each(50)
    latest = max(datetime.fromisoformat(r.json()["expires_at"]) for r in responses if r.is_success)
    assert await expire_twice(live, latest - timedelta(seconds=61)) == 0  # none due yet
    assert await expire_twice(live, latest) == 50
    assert await counters(live, campaign["id"], code, customers) == each(0)
    held = await scalar(
        live,
        select(func.count()).where(
            Reservation.campaign_id == decode(Kind.CAMPAIGN, campaign["id"]),
            Reservation.status == "expired",
        ),
    )
    assert held == 50


async def test_a_confirmation_racing_the_expiry_is_counted_once_or_not_at_all(
    http: httpx.AsyncClient, live: Live
) -> None:
    campaign = await new_campaign(http, live)
    code = await new_code(http, live, campaign["id"], max_redemptions=40)
    customers = [unique("cus") for _ in range(40)]
    held = await fire([reserve(http, live, code, customer, 1) for customer in customers])
    assert statuses(held) == {(201, "ok"): 40}
    expires_at = max(datetime.fromisoformat(r.json()["expires_at"]) for r in held)
    # Fired just before the holds run out, the expiry sweeping as if they had.
    await asyncio.sleep(
        max(0.0, (expires_at - datetime.now(expires_at.tzinfo)).total_seconds() - 0.5)
    )
    confirms = [confirm(http, live, r.json()["id"]) for r in held]
    results = await asyncio.gather(fire(confirms), expire_twice(live, expires_at))
    answers, expired = results[0], results[1]
    told = statuses(answers)
    confirmed = told[(201, "ok")]
    assert confirmed + told[(409, "reservation_expired")] == 40
    assert expired == 40 - confirmed
    assert await counters(live, campaign["id"], code, customers) == each(confirmed)
    assert await live_redemptions(live, campaign["id"]) == confirmed
    entries = await scalar(
        live,
        select(func.count()).where(
            LedgerEntry.campaign_id == decode(Kind.CAMPAIGN, campaign["id"])
        ),
    )
    assert entries == confirmed
