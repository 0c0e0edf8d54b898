"""Limits, budgets and idempotency hold under hundreds of concurrent redemptions,
against a real server with two worker processes (PostgreSQL and SQLite)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import func, select, text

from promo.auth.roles import Role
from promo.campaigns.models import Campaign
from promo.checkout.models import CustomerUsage, Redemption
from promo.codes.models import Code
from promo.ids import Kind, decode
from promo.ledger.models import LedgerEntry
from tests.concurrency.conftest import Live
from tests.support.api import SUMMER, cart, item, merged
from tests.support.pii import ref

REQUESTS = 200
NOW_ACTIVE = {"starts_at": "2020-01-01T00:00:00Z", "ends_at": None}


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10].upper()}"


async def new_campaign(http: httpx.AsyncClient, live: Live, **overrides: Any) -> dict[str, Any]:
    body = merged(merged(SUMMER, NOW_ACTIVE), {"name": unique("c"), **overrides})
    response = await http.post("/v1/campaigns", json=body, headers=live.headers[Role.MARKETER])
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def new_code(http: httpx.AsyncClient, live: Live, campaign_id: str, **fields: Any) -> str:
    code = unique("K")
    response = await http.post(
        f"/v1/campaigns/{campaign_id}/codes",
        json={"code": code, **fields},
        headers=live.headers[Role.MARKETER],
    )
    assert response.status_code == 201, response.text
    return code


async def redeem(
    http: httpx.AsyncClient,
    live: Live,
    code: str,
    *,
    customer: str | None = None,
    order: str | None = None,
    key: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {
        "code": code,
        "order_id": order or unique("o"),
        "customer_id": customer or unique("cus"),
        "cart": cart(item("TSHIRT-1", 2, 2500)),
    }
    headers = {**live.headers[Role.CHECKOUT], "Idempotency-Key": key or str(uuid.uuid4())}
    return await http.post("/v1/redemptions", json=body, headers=headers)


async def fire(requests: list[Any]) -> list[httpx.Response]:
    return list(await asyncio.gather(*requests))


def statuses(responses: list[httpx.Response]) -> Counter[tuple[int, str]]:
    return Counter(
        (r.status_code, r.json().get("code", "ok") if r.status_code >= 400 else "ok")
        for r in responses
    )


async def scalar(live: Live, query: Any) -> Any:
    async with live.engine.connect() as connection:
        return (await connection.execute(query)).scalar_one()


async def campaign_row(live: Live, campaign_id: str) -> Any:
    async with live.engine.connect() as connection:
        return (
            await connection.execute(
                select(Campaign.redemptions_used, Campaign.budget_used).where(
                    Campaign.id == decode(Kind.CAMPAIGN, campaign_id)
                )
            )
        ).one()


async def live_redemptions(live: Live, campaign_id: str) -> int:
    return int(
        await scalar(
            live,
            select(func.count()).where(
                Redemption.campaign_id == decode(Kind.CAMPAIGN, campaign_id),
                Redemption.rolled_back_at.is_(None),
            ),
        )
    )


async def test_code_limit_holds_under_concurrent_redemptions(
    http: httpx.AsyncClient, live: Live
) -> None:
    campaign = await new_campaign(http, live)
    code = await new_code(http, live, campaign["id"], max_redemptions=50)
    responses = await fire([redeem(http, live, code) for _ in range(REQUESTS)])
    assert statuses(responses) == {(201, "ok"): 50, (409, "code_exhausted"): REQUESTS - 50}
    used = await scalar(live, select(Code.used).where(Code.code == code))
    assert used == 50
    assert await campaign_row(live, campaign["id"]) == (50, 50 * 1000)
    assert await live_redemptions(live, campaign["id"]) == 50
    ledger = await scalar(
        live,
        select(func.count()).where(
            LedgerEntry.campaign_id == decode(Kind.CAMPAIGN, campaign["id"])
        ),
    )
    assert ledger == 50


async def test_per_customer_limit_holds_under_concurrent_redemptions(
    http: httpx.AsyncClient, live: Live
) -> None:
    campaign = await new_campaign(http, live, limits={"max_redemptions_per_customer": 3})
    code = await new_code(http, live, campaign["id"])
    customer = unique("cus")
    responses = await fire([redeem(http, live, code, customer=customer) for _ in range(REQUESTS)])
    assert statuses(responses) == {(201, "ok"): 3, (409, "customer_limit_reached"): REQUESTS - 3}
    usage = await scalar(
        live, select(CustomerUsage.used).where(CustomerUsage.customer_ref == ref(f"id:{customer}"))
    )
    assert usage == 3
    assert await live_redemptions(live, campaign["id"]) == 3


async def test_budget_that_runs_out_midway_is_never_exceeded(
    http: httpx.AsyncClient, live: Live
) -> None:
    # 1000 off each order; the budget covers 37 orders and a half.
    campaign = await new_campaign(http, live, limits={"budget": 37_500})
    code = await new_code(http, live, campaign["id"])
    responses = await fire([redeem(http, live, code) for _ in range(REQUESTS)])
    assert statuses(responses) == {(201, "ok"): 37, (409, "budget_exhausted"): REQUESTS - 37}
    assert await campaign_row(live, campaign["id"]) == (37, 37_000)


async def test_campaign_limit_shared_by_many_single_use_codes(
    http: httpx.AsyncClient, live: Live
) -> None:
    campaign = await new_campaign(http, live, limits={"max_redemptions": 50})
    codes = await asyncio.gather(
        *[new_code(http, live, campaign["id"], max_redemptions=1) for _ in range(REQUESTS)]
    )
    responses = await fire([redeem(http, live, code) for code in codes])
    assert statuses(responses) == {(201, "ok"): 50, (409, "campaign_exhausted"): REQUESTS - 50}
    total_used = await scalar(
        live,
        select(func.sum(Code.used)).where(
            Code.campaign_id == decode(Kind.CAMPAIGN, campaign["id"])
        ),
    )
    assert total_used == 50
    assert await campaign_row(live, campaign["id"]) == (50, 50_000)


async def test_same_idempotency_key_at_once_makes_one_redemption(
    http: httpx.AsyncClient, live: Live
) -> None:
    campaign = await new_campaign(http, live)
    code = await new_code(http, live, campaign["id"])
    key, order, customer = str(uuid.uuid4()), unique("o"), unique("cus")
    responses = await fire(
        [redeem(http, live, code, customer=customer, order=order, key=key) for _ in range(20)]
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 19
    assert await live_redemptions(live, campaign["id"]) == 1


async def test_interleaved_rollbacks_keep_counters_within_bounds(
    http: httpx.AsyncClient, live: Live
) -> None:
    campaign = await new_campaign(http, live, limits={"max_redemptions": 40})
    code = await new_code(http, live, campaign["id"], max_redemptions=40)
    first = await fire([redeem(http, live, code) for _ in range(40)])
    assert statuses(first) == {(201, "ok"): 40}
    rollbacks = [
        http.post(
            f"/v1/redemptions/{r.json()['id']}/rollback",
            json={},
            headers={**live.headers[Role.CHECKOUT], "Idempotency-Key": str(uuid.uuid4())},
        )
        for r in first[:20]
    ]
    more = [redeem(http, live, code) for _ in range(100)]
    responses = await fire([*rollbacks, *more])
    rolled_back = responses[:20]
    assert {r.status_code for r in rolled_back} == {200}
    redeemed = sum(r.status_code == 201 for r in responses[20:])
    assert 0 <= redeemed <= 20
    live_count = await live_redemptions(live, campaign["id"])
    assert live_count == 40 - 20 + redeemed <= 40
    used = await scalar(live, select(Code.used).where(Code.code == code))
    assert used == live_count
    assert await campaign_row(live, campaign["id"]) == (live_count, live_count * 1000)


async def test_a_fault_midway_leaves_nothing_behind(http: httpx.AsyncClient, live: Live) -> None:
    """The ledger insert fails (a real database error, injected by a trigger):
    no usage is consumed, no redemption row remains, and a retry can run."""
    campaign = await new_campaign(http, live, limits={"max_redemptions_per_customer": 1})
    code = await new_code(http, live, campaign["id"], max_redemptions=5)
    order = unique("FAULT")
    await install_fault(live, order)
    try:
        customer, key = unique("cus"), str(uuid.uuid4())
        failed = await redeem(http, live, code, customer=customer, order=order, key=key)
        assert failed.status_code == 500
        assert failed.json()["code"] == "internal_error"
        assert await scalar(live, select(Code.used).where(Code.code == code)) == 0
        assert await campaign_row(live, campaign["id"]) == (0, 0)
        assert await live_redemptions(live, campaign["id"]) == 0
        assert (
            await scalar(
                live,
                select(func.count()).where(CustomerUsage.customer_ref == ref(f"id:{customer}")),
            )
            == 0
        )
    finally:
        await remove_fault(live)
    retried = await redeem(http, live, code, customer=customer, order=order, key=key)
    assert retried.status_code == 201, retried.text


async def install_fault(live: Live, order_id: str) -> None:
    async with live.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(
                text(
                    "CREATE FUNCTION test_fault() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    "BEGIN RAISE EXCEPTION 'injected fault'; END $$"
                )
            )
            await connection.execute(
                text(
                    "CREATE TRIGGER test_fault BEFORE INSERT ON ledger_entries FOR EACH ROW "
                    f"WHEN (NEW.order_id = '{order_id}') EXECUTE FUNCTION test_fault()"
                )
            )
        else:
            await connection.execute(
                text(
                    "CREATE TRIGGER test_fault BEFORE INSERT ON ledger_entries "
                    f"WHEN NEW.order_id = '{order_id}' "
                    "BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
                )
            )


async def remove_fault(live: Live) -> None:
    async with live.engine.begin() as connection:
        await connection.execute(
            text("DROP TRIGGER IF EXISTS test_fault ON ledger_entries")
            if connection.dialect.name == "postgresql"
            else text("DROP TRIGGER IF EXISTS test_fault")
        )
        if connection.dialect.name == "postgresql":
            await connection.execute(text("DROP FUNCTION IF EXISTS test_fault()"))
