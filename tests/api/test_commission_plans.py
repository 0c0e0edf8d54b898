"""/v1/commission-plans: plans as a resource, attached to campaigns and affiliates,
pricing each sale per category and per volume tier, recorded on each entry.

The cart: shoes 10000 (category ``shoes``) and two tops at 2500. The campaign
takes 20% (3000, split 2000/1000 over the lines by largest remainder), so the
net lines are 8000 and 4000. The plan: 5% base, 12% on shoes, 8% from the
3rd sale of the month, 100 fixed per sale.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession

from promo.auth.roles import Role
from promo.jobs import queue
from promo.ledger import bonuses
from tests.support.api import (
    cart,
    create_affiliate,
    create_campaign,
    create_code,
    item,
    ledger_items,
    redeem,
    rollback,
)
from tests.support.clock import FrozenClock
from tests.support.factories import bearer

PLAN = {
    "name": "Partners 2026",
    "currency": "EUR",
    "timezone": "Europe/Paris",
    "percent": "5",
    "fixed": 100,
    "category_rates": {"shoes": "12"},
    "tiers": {"basis": "sales", "levels": [{"threshold": 3, "percent": "8"}]},
}
BASKET = cart(item("SHOE-1", 1, 10000, "shoes"), item("TEE-1", 2, 2500, "tops"))
# shoes 8000 x 12% = 960; tops 4000 x 5% = 200 (x 8% = 320 from the 3rd sale).
BASE_SALE, TIER_SALE = 960 + 200 + 100, 960 + 320 + 100


async def create_plan(
    client: httpx.AsyncClient, marketer: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/commission-plans", json={**PLAN, **overrides}, headers=marketer
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def sale(client: httpx.AsyncClient, checkout: dict[str, str], code: str) -> dict[str, Any]:
    response = await redeem(
        client,
        checkout,
        code=code,
        cart=BASKET,
        customer_id=f"cus_{uuid.uuid4().hex[:8]}",
        order_id=f"ord_{uuid.uuid4().hex[:12]}",
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def accountant(keys: dict[Role, str]) -> dict[str, str]:
    return bearer(keys[Role.ACCOUNTANT])


@pytest.fixture
async def program(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(plan, campaign with the plan attached, affiliate with the code ANNA)."""
    plan = await create_plan(client, marketer)
    campaign = await create_campaign(
        client, marketer, rules={"exclude_skus": []}, commission={"plan_id": plan["id"]}
    )
    affiliate = await create_affiliate(client, marketer, "Anna")
    await create_code(client, marketer, campaign["id"], "ANNA", affiliate_id=affiliate["id"])
    return plan, campaign, affiliate


async def test_a_plan_is_created_read_and_listed(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    plan = await create_plan(client, marketer)
    assert plan["id"].startswith("cpl_")
    assert (plan["revision"], plan["percent"], plan["category_rates"]) == (
        1,
        "5.00",
        {"shoes": "12.00"},
    )
    read = await client.get(f"/v1/commission-plans/{plan['id']}", headers=marketer)
    assert read.json() == plan
    listed = await client.get("/v1/commission-plans", headers=marketer)
    assert [p["id"] for p in listed.json()["items"]] == [plan["id"]]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"currency": "EUX"}, "currency"),
        ({"percent": "5.125"}, "percent"),
        ({"category_rates": {"shoes": "101"}}, "category_rates.shoes"),
        (
            {
                "tiers": {
                    "basis": "revenue",
                    "levels": [{"threshold": 500, "percent": 6}, {"threshold": 500, "percent": 7}],
                }
            },
            "tiers.levels[1].threshold",
        ),
        ({"action_fees": {"Lead!": 100}}, "action_fees"),
        ({"bonus": {"basis": "sales", "threshold": 0, "amount": 100}}, "bonus.threshold"),
    ],
)
async def test_a_bad_plan_is_refused_naming_the_field(
    client: httpx.AsyncClient, marketer: dict[str, str], overrides: dict[str, Any], field: str
) -> None:
    response = await client.post(
        "/v1/commission-plans", json={**PLAN, **overrides}, headers=marketer
    )
    assert response.status_code in (400, 422), response.text
    assert response.json()["errors"][0]["field"].startswith(field)


async def test_plans_are_for_marketers_only(
    client: httpx.AsyncClient, keys: dict[Role, str]
) -> None:
    for role in (Role.CHECKOUT, Role.AFFILIATE, Role.ACCOUNTANT):
        response = await client.get("/v1/commission-plans", headers=bearer(keys[role]))
        assert response.status_code == 403, (role, response.text)


async def test_attaching_a_plan_is_checked(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    plan = await create_plan(client, marketer)
    both = await client.post(
        "/v1/campaigns",
        json={
            "name": "Both",
            "currency": "EUR",
            "starts_at": "2026-06-01T00:00:00Z",
            "discount": {"type": "percentage", "percent_off": 10},
            "commission": {"plan_id": plan["id"], "percent": 10},
        },
        headers=marketer,
    )
    assert both.status_code == 422, both.text
    assert both.json()["errors"][0]["field"] == "commission.plan_id"
    dollars = await client.post(
        "/v1/campaigns",
        json={
            "name": "Dollars",
            "currency": "USD",
            "starts_at": "2026-06-01T00:00:00Z",
            "discount": {"type": "percentage", "percent_off": 10},
            "commission": {"plan_id": plan["id"]},
        },
        headers=marketer,
    )
    assert dollars.status_code == 422, dollars.text
    assert "EUR" in dollars.json()["errors"][0]["message"]
    unknown = await client.post(
        "/v1/affiliates",
        json={"name": "X", "email": "x@partners.test", "commission": {"plan_id": "cpl_nothing"}},
        headers=marketer,
    )
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["errors"][0]["field"] == "commission.plan_id"


async def test_each_sale_is_priced_per_category_and_tier_and_recorded(
    client: httpx.AsyncClient,
    marketer: dict[str, str],
    checkout: dict[str, str],
    accountant: dict[str, str],
    program: tuple[dict[str, Any], dict[str, Any], dict[str, Any]],
) -> None:
    plan, _, _ = program
    first, second, third = [await sale(client, checkout, "ANNA") for _ in range(3)]
    assert [s["commission"] for s in (first, second, third)] == [BASE_SALE, BASE_SALE, TIER_SALE]
    entries = {e["redemption_id"]: e for e in await ledger_items(client, accountant)}
    assert {e["plan_id"] for e in entries.values()} == {plan["id"]}
    assert [entries[s["id"]]["rate"] for s in (first, second, third)] == ["5.00", "5.00", "8.00"]
    assert {e["plan_revision"] for e in entries.values()} == {1}


async def test_a_rolled_back_sale_leaves_the_period_and_reverses_exactly(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    program: tuple[dict[str, Any], dict[str, Any], dict[str, Any]],
) -> None:
    first = await sale(client, checkout, "ANNA")
    second = await sale(client, checkout, "ANNA")
    partial = await rollback(client, checkout, second["id"], amount=3000)
    assert partial.status_code == 200, partial.text
    undone = await rollback(client, checkout, second["id"])
    assert undone.status_code == 200, undone.text
    # Sales live in the period: the first only; the next is the 2nd: base rate.
    assert (await sale(client, checkout, "ANNA"))["commission"] == BASE_SALE
    assert (await sale(client, checkout, "ANNA"))["commission"] == TIER_SALE
    entries = [
        e for e in await ledger_items(client, accountant) if e["redemption_id"] == second["id"]
    ]
    assert [e["kind"] for e in entries] == ["redemption", "refund", "reversal"]
    assert sum(e["commission"] for e in entries) == 0
    # 3000 of 12000 refunded: a quarter of the percentage part (1160) goes back.
    assert entries[1]["commission"] == -290
    assert {e["rate"] for e in entries} == {"5.00"}
    assert first["commission"] == BASE_SALE


async def test_a_revision_prices_later_sales_and_old_entries_keep_theirs(
    client: httpx.AsyncClient,
    marketer: dict[str, str],
    checkout: dict[str, str],
    accountant: dict[str, str],
    program: tuple[dict[str, Any], dict[str, Any], dict[str, Any]],
) -> None:
    plan, _, _ = program
    before = await sale(client, checkout, "ANNA")
    revised = await client.patch(
        f"/v1/commission-plans/{plan['id']}",
        json={"category_rates": None, "fixed": None},
        headers=marketer,
    )
    assert revised.status_code == 200, revised.text
    assert (revised.json()["revision"], revised.json()["category_rates"]) == (2, {})
    after = await sale(client, checkout, "ANNA")
    assert (before["commission"], after["commission"]) == (BASE_SALE, 600)  # 12000 x 5%
    entries = {e["redemption_id"]: e for e in await ledger_items(client, accountant)}
    assert (entries[before["id"]]["plan_revision"], entries[after["id"]]["plan_revision"]) == (
        1,
        2,
    )
    revisions = await client.get(f"/v1/commission-plans/{plan['id']}/revisions", headers=marketer)
    terms = [r["terms"] for r in revisions.json()["items"]]
    assert [t["category_rates"] for t in terms] == [{"shoes": "12.00"}, {}]
    unchanged = await client.patch(
        f"/v1/commission-plans/{plan['id']}", json={"name": "Renamed"}, headers=marketer
    )
    assert unchanged.json()["revision"] == 2


async def test_an_affiliate_plan_overrides_the_campaign_plan_in_its_currency(
    client: httpx.AsyncClient,
    marketer: dict[str, str],
    checkout: dict[str, str],
    program: tuple[dict[str, Any], dict[str, Any], dict[str, Any]],
) -> None:
    _, campaign, affiliate = program
    dollars = await create_plan(client, marketer, name="US", currency="USD", percent="50")
    own = await create_plan(client, marketer, name="VIP", percent="10", category_rates={})
    await client.patch(
        f"/v1/affiliates/{affiliate['id']}",
        json={"commission": {"plan_id": dollars["id"]}},
        headers=marketer,
    )
    # A USD plan does not price a EUR sale: the campaign's plan does.
    assert (await sale(client, checkout, "ANNA"))["commission"] == BASE_SALE
    await client.patch(
        f"/v1/affiliates/{affiliate['id']}",
        json={"commission": {"plan_id": own["id"]}},
        headers=marketer,
    )
    # Its own plan's period starts empty: 12000 x 10% + 100, below the 3rd sale's tier.
    assert (await sale(client, checkout, "ANNA"))["commission"] == 1300
    read = await client.get(f"/v1/affiliates/{affiliate['id']}", headers=marketer)
    assert read.json()["commission"]["plan_id"] == own["id"]
    got = await client.get(f"/v1/campaigns/{campaign['id']}", headers=marketer)
    assert got.json()["commission"]["plan_id"] is not None


async def test_tiers_count_the_calendar_month_in_the_plans_timezone(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    clock: FrozenClock,
    db: AsyncSession,
    program: tuple[dict[str, Any], dict[str, Any], dict[str, Any]],
) -> None:
    clock.set(datetime(2026, 7, 31, 21, 0, tzinfo=UTC))  # 23:00 in Paris: still July
    for _ in range(2):
        await sale(client, checkout, "ANNA")
    assert (await sale(client, checkout, "ANNA"))["commission"] == TIER_SALE
    clock.set(datetime(2026, 7, 31, 22, 30, tzinfo=UTC))  # 00:30 on 1 August in Paris
    assert (await sale(client, checkout, "ANNA"))["commission"] == BASE_SALE


async def test_the_volume_bonus_is_settled_once_after_the_period_and_holding(
    client: httpx.AsyncClient,
    app: Litestar,
    db: AsyncSession,
    clock: FrozenClock,
    marketer: dict[str, str],
    checkout: dict[str, str],
    accountant: dict[str, str],
) -> None:
    plan = await create_plan(
        client, marketer, bonus={"basis": "sales", "threshold": 2, "amount": 5000}
    )
    campaign = await create_campaign(
        client, marketer, rules={"exclude_skus": []}, commission={"plan_id": plan["id"]}
    )
    anna = await create_affiliate(client, marketer, "Anna", holding_days=3)
    bob = await create_affiliate(client, marketer, "Bob", holding_days=3)
    await create_code(client, marketer, campaign["id"], "ANNA", affiliate_id=anna["id"])
    await create_code(client, marketer, campaign["id"], "BOB", affiliate_id=bob["id"])
    clock.set(datetime(2026, 7, 20, tzinfo=UTC))
    for code in ("ANNA", "ANNA", "BOB"):  # Anna reaches 2 sales in July, Bob does not
        await sale(client, checkout, code)

    async def settle_at(now: datetime) -> list[dict[str, Any]]:
        clock.set(now)
        await queue.enqueue(db, bonuses.KIND, now=now, unique_key=f"bonus-{now.isoformat()}")
        await db.flush()
        await app.state.jobs.worker.run_due()
        return [e for e in await ledger_items(client, accountant) if e["kind"] == "bonus"]

    # July ends at 22:00 UTC on the 31st (midnight in Paris); holding: 3 more days.
    assert await settle_at(datetime(2026, 8, 3, 21, 59, tzinfo=UTC)) == []
    settled = await settle_at(datetime(2026, 8, 3, 22, 0, tzinfo=UTC))
    assert [(e["affiliate_id"], e["commission"], e["plan_id"]) for e in settled] == [
        (anna["id"], 5000, plan["id"])
    ]
    assert "2026-07" in settled[0]["note"]
    assert await settle_at(datetime(2026, 8, 4, tzinfo=UTC)) == settled  # once
    async with db.begin_nested():
        assert await bonuses.settle_due(db, now=datetime(2026, 8, 5, tzinfo=UTC)) == 0
