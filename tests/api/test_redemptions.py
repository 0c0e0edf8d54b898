"""POST /v1/redemptions: consume exactly one use, or refuse with the reason and consume nothing.

Also the redemption's commission and ledger entry, reading redemptions back
(filters, paging), roles and malformed bodies.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from promo.affiliates.models import Affiliate
from promo.auth.roles import Role
from promo.checkout.models import CustomerUsage
from promo.ids import Kind, decode, encode
from promo.ledger.models import LedgerEntry
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
from tests.support.factories import bearer, make_affiliate
from tests.support.pii import ref

# Eligible: 2 x 2500 = 5000 (the gift card is excluded); 20% off = 1000;
# order amount = 5000 - 1000 = 4000 (shipping is never part of it).
TSHIRTS = cart(item("TSHIRT-1", 2, 2500, "summer", "tops"), item("GIFT-CARD", 1, 5000))


def order(code: str = "SUMMER20", order_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """A redemption body for the T-shirt cart (a fresh order id unless given)."""
    return {
        "code": code,
        "cart": TSHIRTS,
        "order_id": order_id if order_id is not None else f"ord_{uuid.uuid4().hex[:12]}",
        **fields,
    }


async def redeemed(
    client: httpx.AsyncClient, checkout: dict[str, str], **body: Any
) -> dict[str, Any]:
    response = await redeem(client, checkout, **order(**body))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def ledger_count(db: AsyncSession) -> int:
    return int(await db.scalar(select(func.count()).select_from(LedgerEntry)) or 0)


async def customer_usage(db: AsyncSession, campaign_id: str) -> dict[str, int]:
    rows = await db.execute(
        select(CustomerUsage.customer_ref, CustomerUsage.used).where(
            CustomerUsage.campaign_id == decode(Kind.CAMPAIGN, campaign_id)
        )
    )
    return {key: used for key, used in rows.all()}


async def everything(
    client: httpx.AsyncClient,
    marketer: dict[str, str],
    checkout: dict[str, str],
    db: AsyncSession,
    campaign_id: str,
    *codes: str,
) -> dict[str, Any]:
    """Every counter a redemption could move, plus the rows it could write."""
    listed = await client.get(
        "/v1/redemptions", params={"campaign_id": campaign_id}, headers=checkout
    )
    return {
        "usage": await usage_of(client, marketer, campaign_id, *codes),
        "customers": await customer_usage(db, campaign_id),
        "redemptions": len(listed.json()["items"]),
        "ledger": await ledger_count(db),
    }


def assert_refused(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == reason


@pytest.fixture
async def summer(client: httpx.AsyncClient, marketer: dict[str, str]) -> dict[str, Any]:
    campaign = await create_campaign(client, marketer, commission={"percent": 10, "fixed": 50})
    await create_code(client, marketer, campaign["id"], "SUMMER20")
    return campaign


@pytest.fixture
async def anna(db: AsyncSession, clock: FrozenClock) -> Affiliate:
    return await make_affiliate(db, now=clock(), name="Anna")  # anna@example.com, 30 days


async def affiliate_code(
    client: httpx.AsyncClient,
    marketer: dict[str, str],
    campaign_id: str,
    affiliate: Affiliate,
    code: str = "ANNA10",
) -> dict[str, Any]:
    return await create_code(
        client, marketer, campaign_id, code, affiliate_id=encode(Kind.AFFILIATE, affiliate.id)
    )


# The redemption itself


async def test_redemption_returns_the_terms_it_was_granted(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any]
) -> None:
    response = await redeem(
        client, checkout, **order(code="summer-2o", order_id="ord_1", customer_id="cus_42")
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert decode(Kind.REDEMPTION, body.pop("id")) is not None
    assert body == {
        "code": "SUMMER20",
        "campaign_id": summer["id"],
        "affiliate_id": None,
        "customer_ref": ref("id:cus_42"),
        "order_id": "ord_1",
        "currency": "EUR",
        "order_amount": 4000,
        "discount": {
            "total": 1000,
            "shipping": 0,
            "lines": [{"line_id": "0", "sku": "TSHIRT-1", "amount": 1000}],
            "gift": None,
        },
        "commission": 0,
        "refunded_amount": 0,
        "status": "active",
        "created_at": "2026-07-01T12:00:00Z",
        "rolled_back_at": None,
    }


async def test_discount_lines_sum_to_the_total(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any]
) -> None:
    basket = cart(item("A", 1, 999), item("B", 3, 333), item("C", 1, 1), item("GIFT-CARD", 1, 99))
    response = await redeem(client, checkout, **{**order(), "cart": basket})
    assert response.status_code == 201, response.text
    discount = response.json()["discount"]
    assert discount["total"] == 400  # 20% of 999 + 999 + 1 = 1999 -> 399.8
    assert [line["line_id"] for line in discount["lines"]] == ["0", "1", "2"]
    assert sum(line["amount"] for line in discount["lines"]) == discount["total"]
    assert response.json()["order_amount"] == 1999 - 400


async def test_free_shipping_redemption_excludes_shipping_from_the_order_amount(
    client: httpx.AsyncClient, checkout: dict[str, str], marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer, discount={"type": "free_shipping"})
    await create_code(client, marketer, campaign["id"], "SHIPFREE")
    body = await redeemed(client, checkout, code="SHIPFREE")
    assert body["discount"]["total"] == body["discount"]["shipping"] == 490
    assert body["order_amount"] == 5000  # eligible items, nothing taken off them


async def test_redemption_consumes_one_use_and_its_discount_of_budget(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    db: AsyncSession,
) -> None:
    campaign = await create_campaign(
        client, marketer, limits={"max_redemptions_per_customer": 3, "budget": 100_000}
    )
    await create_code(client, marketer, campaign["id"], "SUMMER20")
    await create_code(client, marketer, campaign["id"], "UNTOUCHED")
    before = await usage_of(client, marketer, campaign["id"], "SUMMER20", "UNTOUCHED")
    assert before == {"redemptions": 0, "budget_used": 0, "SUMMER20": 0, "UNTOUCHED": 0}

    await redeemed(client, checkout, customer_email="Ana@Example.com")
    assert await usage_of(client, marketer, campaign["id"], "SUMMER20", "UNTOUCHED") == {
        "redemptions": 1,
        "budget_used": 1000,
        "SUMMER20": 1,
        "UNTOUCHED": 0,
    }
    assert await customer_usage(db, campaign["id"]) == {ref("email:ana@example.com"): 1}

    await redeemed(client, checkout, customer_email="ana@example.com")
    assert await usage_of(client, marketer, campaign["id"], "SUMMER20") == {
        "redemptions": 2,
        "budget_used": 2000,
        "SUMMER20": 2,
    }
    assert await customer_usage(db, campaign["id"]) == {ref("email:ana@example.com"): 2}


# Each refusal: 409 whose code is the reason, and nothing moves.


async def test_unknown_code_is_refused_with_code_not_found(
    client: httpx.AsyncClient, checkout: dict[str, str], db: AsyncSession
) -> None:
    before = await ledger_count(db)
    response = await redeem(client, checkout, **order(code="NOSUCHCODE", order_id="ord_x"))
    assert_refused(response, "code_not_found")
    listed = await client.get("/v1/redemptions", params={"order_id": "ord_x"}, headers=checkout)
    assert listed.json()["items"] == []
    assert await ledger_count(db) == before


async def test_disabled_code_is_refused_and_consumes_nothing(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    db: AsyncSession,
    summer: dict[str, Any],
) -> None:
    await client.patch("/v1/codes/SUMMER20", json={"active": False}, headers=marketer)
    before = await everything(client, marketer, checkout, db, summer["id"], "SUMMER20")
    assert_refused(await redeem(client, checkout, **order()), "code_disabled")
    assert await everything(client, marketer, checkout, db, summer["id"], "SUMMER20") == before


async def test_expired_campaign_is_refused_by_the_clock(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    db: AsyncSession,
    clock: FrozenClock,
    summer: dict[str, Any],
) -> None:
    before = await everything(client, marketer, checkout, db, summer["id"], "SUMMER20")
    clock.set(datetime(2026, 8, 31, 22, 0, 0, tzinfo=UTC))  # 00:00 on Sept 1st in Paris
    assert_refused(await redeem(client, checkout, **order()), "expired")
    assert await everything(client, marketer, checkout, db, summer["id"], "SUMMER20") == before


async def test_per_customer_limit_refuses_an_anonymous_redemption(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    db: AsyncSession,
) -> None:
    campaign = await create_campaign(client, marketer, limits={"max_redemptions_per_customer": 1})
    await create_code(client, marketer, campaign["id"], "ONEEACH")
    before = await everything(client, marketer, checkout, db, campaign["id"], "ONEEACH")
    assert_refused(await redeem(client, checkout, **order(code="ONEEACH")), "customer_required")
    assert await everything(client, marketer, checkout, db, campaign["id"], "ONEEACH") == before


async def test_affiliate_redeeming_its_own_code_is_self_referral(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    db: AsyncSession,
    summer: dict[str, Any],
    anna: Affiliate,
) -> None:
    await affiliate_code(client, marketer, summer["id"], anna)
    before = await everything(client, marketer, checkout, db, summer["id"], "ANNA10")
    response = await redeem(
        client, checkout, **order(code="ANNA10", customer_email=" Anna+promo@Example.com ")
    )
    assert_refused(response, "self_referral")
    assert await everything(client, marketer, checkout, db, summer["id"], "ANNA10") == before
    await redeemed(client, checkout, code="ANNA10", customer_email="bob@example.com")


async def test_code_is_exhausted_after_its_max_redemptions(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    db: AsyncSession,
    summer: dict[str, Any],
) -> None:
    await create_code(client, marketer, summer["id"], "TWICE", max_redemptions=2)
    await redeemed(client, checkout, code="TWICE")
    await redeemed(client, checkout, code="TWICE")
    before = await everything(client, marketer, checkout, db, summer["id"], "TWICE")
    assert before["usage"] == {"redemptions": 2, "budget_used": 2000, "TWICE": 2}
    assert_refused(await redeem(client, checkout, **order(code="TWICE")), "code_exhausted")
    assert await everything(client, marketer, checkout, db, summer["id"], "TWICE") == before
    await redeemed(client, checkout, code="SUMMER20")  # the campaign itself still runs


async def test_campaign_is_exhausted_after_its_max_redemptions_over_all_codes(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    db: AsyncSession,
) -> None:
    campaign = await create_campaign(client, marketer, limits={"max_redemptions": 2})
    for text in ("FIRST1", "SECOND2", "THIRD3"):
        await create_code(client, marketer, campaign["id"], text)
    await redeemed(client, checkout, code="FIRST1")
    await redeemed(client, checkout, code="SECOND2")
    codes = ("FIRST1", "SECOND2", "THIRD3")
    before = await everything(client, marketer, checkout, db, campaign["id"], *codes)
    assert_refused(await redeem(client, checkout, **order(code="THIRD3")), "campaign_exhausted")
    after = await everything(client, marketer, checkout, db, campaign["id"], *codes)
    assert after == before
    assert after["usage"]["THIRD3"] == 0


@pytest.mark.parametrize(
    "spelling",
    ["a.na@gmail.com", "ana+summer@gmail.com", "ANA@GMAIL.COM", " A.na+x@GoogleMail.com "],
)
async def test_customer_limit_holds_for_the_same_customer_spelled_differently(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    db: AsyncSession,
    spelling: str,
) -> None:
    campaign = await create_campaign(client, marketer, limits={"max_redemptions_per_customer": 1})
    await create_code(client, marketer, campaign["id"], "ONCEEACH")
    first = await redeemed(client, checkout, code="ONCEEACH", customer_email="ana@gmail.com")
    assert first["customer_ref"] == ref("email:ana@gmail.com")
    before = await everything(client, marketer, checkout, db, campaign["id"], "ONCEEACH")
    response = await redeem(client, checkout, **order(code="ONCEEACH", customer_email=spelling))
    assert_refused(response, "customer_limit_reached")
    assert await everything(client, marketer, checkout, db, campaign["id"], "ONCEEACH") == before
    await redeemed(client, checkout, code="ONCEEACH", customer_email="bo@gmail.com")


async def test_budget_that_cannot_cover_the_whole_discount_is_refused_never_shrunk(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    db: AsyncSession,
) -> None:
    campaign = await create_campaign(client, marketer, limits={"budget": 1500})
    await create_code(client, marketer, campaign["id"], "BUDGETED")
    await redeemed(client, checkout, code="BUDGETED")  # 1000 of 1500
    before = await everything(client, marketer, checkout, db, campaign["id"], "BUDGETED")
    # 500 left cannot cover a discount of 1000: no discount of 500 instead.
    assert_refused(await redeem(client, checkout, **order(code="BUDGETED")), "budget_exhausted")
    assert await everything(client, marketer, checkout, db, campaign["id"], "BUDGETED") == before
    # A cart whose whole discount fits takes exactly the rest.
    small = await redeem(
        client, checkout, **{**order(code="BUDGETED"), "cart": cart(item("TSHIRT-1", 1, 2500))}
    )
    assert small.status_code == 201, small.text
    assert small.json()["discount"]["total"] == 500
    assert (await usage_of(client, marketer, campaign["id"]))["budget_used"] == 1500


# One code per order


async def test_second_redemption_of_an_order_is_refused_and_consumes_nothing(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    db: AsyncSession,
    summer: dict[str, Any],
) -> None:
    other = await create_campaign(client, marketer, name="Other", limits={"budget": 10_000})
    await create_code(client, marketer, other["id"], "OTHER10")
    await redeemed(client, checkout, order_id="ord_same", customer_id="cus_1")
    before_summer = await everything(client, marketer, checkout, db, summer["id"], "SUMMER20")
    before_other = await everything(client, marketer, checkout, db, other["id"], "OTHER10")

    response = await redeem(
        client, checkout, **order(code="OTHER10", order_id="ord_same", customer_id="cus_2")
    )
    assert_refused(response, "order_already_redeemed")
    assert await everything(client, marketer, checkout, db, summer["id"], "SUMMER20") == (
        before_summer
    )
    assert await everything(client, marketer, checkout, db, other["id"], "OTHER10") == before_other
    listed = await client.get("/v1/redemptions", params={"order_id": "ord_same"}, headers=checkout)
    assert [r["code"] for r in listed.json()["items"]] == ["SUMMER20"]


async def test_order_can_be_redeemed_again_after_a_full_rollback(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    summer: dict[str, Any],
) -> None:
    first = await redeemed(client, checkout, order_id="ord_again")
    undone = await rollback(client, checkout, first["id"])
    assert undone.status_code == 200, undone.text
    second = await redeemed(client, checkout, order_id="ord_again")
    assert second["id"] != first["id"]
    listed = await client.get("/v1/redemptions", params={"order_id": "ord_again"}, headers=checkout)
    assert [(r["id"], r["status"]) for r in listed.json()["items"]] == [
        (first["id"], "rolled_back"),
        (second["id"], "active"),
    ]
    usage = await usage_of(client, marketer, summer["id"], "SUMMER20")
    assert usage == {"redemptions": 1, "budget_used": 1000, "SUMMER20": 1}


async def test_partially_refunded_order_still_cannot_be_redeemed_again(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any]
) -> None:
    first = await redeemed(client, checkout, order_id="ord_partial")
    assert (await rollback(client, checkout, first["id"], amount=100)).status_code == 200
    response = await redeem(client, checkout, **order(order_id="ord_partial"))
    assert_refused(response, "order_already_redeemed")


# Commission and the ledger


@pytest.mark.parametrize(
    ("affiliate_percent", "affiliate_fixed", "expected"),
    [
        (None, None, 450),  # campaign default: 10% of 4000 + 50
        (Decimal("12.5"), None, 550),  # own percent, campaign's fixed
        (None, 0, 400),  # campaign's percent, own fixed (none)
        (Decimal("2.25"), 120, 210),  # own plan: 90 + 120
    ],
)
async def test_affiliate_code_earns_the_plan_commission_on_the_net_order(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    db: AsyncSession,
    summer: dict[str, Any],
    anna: Affiliate,
    affiliate_percent: Decimal | None,
    affiliate_fixed: int | None,
    expected: int,
) -> None:
    await db.execute(
        update(Affiliate)
        .where(Affiliate.id == anna.id)
        .values(commission_percent=affiliate_percent, commission_fixed=affiliate_fixed)
    )
    await affiliate_code(client, marketer, summer["id"], anna)
    body = await redeemed(client, checkout, code="ANNA10", customer_id="cus_1")
    assert body["affiliate_id"] == encode(Kind.AFFILIATE, anna.id)
    assert body["order_amount"] == 4000
    assert body["commission"] == expected


async def test_commission_rounds_half_up_on_the_net_order(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    db: AsyncSession,
    summer: dict[str, Any],
    anna: Affiliate,
) -> None:
    await db.execute(
        update(Affiliate)
        .where(Affiliate.id == anna.id)
        .values(commission_percent=Decimal("12.5"), commission_fixed=0)
    )
    await affiliate_code(client, marketer, summer["id"], anna)
    # 1 x 1005 -> 20% = 201 off, net 804; 12.5% of 804 = 100.5 -> 101
    response = await redeem(
        client, checkout, **{**order(code="ANNA10"), "cart": cart(item("SOCKS", 1, 1005))}
    )
    assert response.status_code == 201, response.text
    assert (response.json()["order_amount"], response.json()["commission"]) == (804, 101)


async def test_code_without_affiliate_earns_no_commission(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any]
) -> None:
    body = await redeemed(client, checkout)  # the campaign has a 10% + 50 default
    assert body["affiliate_id"] is None
    assert body["commission"] == 0


async def test_redemption_appends_one_ledger_entry_available_after_the_holding_days(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    db: AsyncSession,
    summer: dict[str, Any],
    anna: Affiliate,
) -> None:
    await db.execute(update(Affiliate).where(Affiliate.id == anna.id).values(holding_days=7))
    await affiliate_code(client, marketer, summer["id"], anna)
    body = await redeemed(client, checkout, code="ANNA10", order_id="ord_ledger")
    entries = (
        await db.scalars(
            select(LedgerEntry).where(
                LedgerEntry.redemption_id == decode(Kind.REDEMPTION, body["id"])
            )
        )
    ).all()
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.kind, entry.order_id, entry.code, entry.currency) == (
        "redemption",
        "ord_ledger",
        "ANNA10",
        "EUR",
    )
    assert (entry.campaign_id, entry.affiliate_id) == (decode(Kind.CAMPAIGN, summer["id"]), anna.id)
    assert (entry.order_amount, entry.discount, entry.commission) == (4000, 1000, 450)
    assert entry.created_at == datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert entry.available_at == entry.created_at + timedelta(days=7)


async def test_redemption_without_affiliate_still_gets_its_ledger_entry(
    client: httpx.AsyncClient, checkout: dict[str, str], db: AsyncSession, summer: dict[str, Any]
) -> None:
    body = await redeemed(client, checkout)
    entries = (
        await db.scalars(
            select(LedgerEntry).where(
                LedgerEntry.redemption_id == decode(Kind.REDEMPTION, body["id"])
            )
        )
    ).all()
    assert [(e.kind, e.affiliate_id, e.discount, e.commission) for e in entries] == [
        ("redemption", None, 1000, 0)
    ]
    assert entries[0].available_at == entries[0].created_at


# Reading redemptions back


async def test_list_filters_by_order_code_customer_and_campaign(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    summer: dict[str, Any],
) -> None:
    await create_code(client, marketer, summer["id"], "OTHER10")
    winter = await create_campaign(client, marketer, name="Winter")
    await create_code(client, marketer, winter["id"], "WINTER5")
    a = await redeemed(client, checkout, code="SUMMER20", order_id="ord_a", customer_id="c1")
    b = await redeemed(client, checkout, code="OTHER10", order_id="ord_b", customer_id="c2")
    c = await redeemed(client, checkout, code="WINTER5", order_id="ord_c", customer_id="c1")

    async def ids(**params: str) -> list[str]:
        response = await client.get("/v1/redemptions", params=params, headers=checkout)
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()["items"]]

    assert await ids(order_id="ord_b") == [b["id"]]
    assert await ids(code="summer-2o") == [a["id"]]
    assert await ids(code="SUMMER20") == [a["id"]]
    assert await ids(code=" Winter 5 ") == [c["id"]]
    assert await ids(customer_id="c1") == [a["id"], c["id"]]
    assert await ids(campaign_id=summer["id"]) == [a["id"], b["id"]]
    assert await ids(campaign_id=summer["id"], customer_id="c1") == [a["id"]]
    assert await ids(order_id="ord_none") == []
    assert await ids(code="NOSUCHCODE") == []


@pytest.mark.parametrize("campaign_id", ["cmp_nope", "not-an-id"])
async def test_list_by_a_malformed_campaign_id_finds_nothing(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any], campaign_id: str
) -> None:
    await redeemed(client, checkout)
    response = await client.get(
        "/v1/redemptions", params={"campaign_id": campaign_id}, headers=checkout
    )
    assert response.status_code in (200, 404, 422), response.text
    if response.status_code == 200:
        assert response.json()["items"] == []


async def test_list_by_an_unknown_campaign_finds_nothing(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any]
) -> None:
    await redeemed(client, checkout)
    unknown = encode(Kind.CAMPAIGN, 987_654_321)
    response = await client.get(
        "/v1/redemptions", params={"campaign_id": unknown}, headers=checkout
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("params", "field"), [({"cursor": "garbage"}, "cursor"), ({"limit": 501}, "limit")]
)
async def test_list_rejects_a_bad_cursor_or_limit(
    client: httpx.AsyncClient, checkout: dict[str, str], params: dict[str, Any], field: str
) -> None:
    response = await client.get("/v1/redemptions", params=params, headers=checkout)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


async def test_list_pages_with_a_cursor(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any]
) -> None:
    made = [(await redeemed(client, checkout))["id"] for _ in range(5)]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"campaign_id": summer["id"], "limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        page = (await client.get("/v1/redemptions", params=params, headers=checkout)).json()
        assert len(page["items"]) <= 2
        seen += [r["id"] for r in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made
    assert pages == 3


async def test_get_redemption_by_id_shows_what_was_returned_at_redemption(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any]
) -> None:
    body = await redeemed(client, checkout, customer_id="cus_7")
    response = await client.get(f"/v1/redemptions/{body['id']}", headers=checkout)
    assert response.status_code == 200, response.text
    assert response.json() == body


@pytest.mark.parametrize("public_id", ["red_nope", encode(Kind.REDEMPTION, 987_654_321), "42"])
async def test_unknown_redemption_is_404(
    client: httpx.AsyncClient, checkout: dict[str, str], public_id: str
) -> None:
    response = await client.get(f"/v1/redemptions/{public_id}", headers=checkout)
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "redemption_not_found"


# Roles


@pytest.mark.parametrize("role", [Role.MARKETER, Role.AFFILIATE, Role.ACCOUNTANT])
async def test_only_checkout_and_admin_may_redeem(
    client: httpx.AsyncClient,
    keys: dict[Role, str],
    checkout: dict[str, str],
    summer: dict[str, Any],
    role: Role,
) -> None:
    response = await redeem(client, bearer(keys[role]), **order(order_id="ord_role"))
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "forbidden"
    listed = await client.get("/v1/redemptions", params={"order_id": "ord_role"}, headers=checkout)
    assert listed.json()["items"] == []
    admin = await redeem(client, bearer(keys[Role.ADMIN]), **order(order_id="ord_role"))
    assert admin.status_code == 201, admin.text


async def test_accountant_reads_redemptions(
    client: httpx.AsyncClient,
    keys: dict[Role, str],
    checkout: dict[str, str],
    summer: dict[str, Any],
) -> None:
    body = await redeemed(client, checkout)
    accountant = bearer(keys[Role.ACCOUNTANT])
    listed = await client.get("/v1/redemptions", headers=accountant)
    assert listed.status_code == 200, listed.text
    assert [r["id"] for r in listed.json()["items"]] == [body["id"]]
    one = await client.get(f"/v1/redemptions/{body['id']}", headers=accountant)
    assert one.status_code == 200, one.text


@pytest.mark.parametrize("role", [Role.MARKETER, Role.AFFILIATE])
async def test_marketer_and_affiliate_may_not_read_redemptions(
    client: httpx.AsyncClient,
    keys: dict[Role, str],
    checkout: dict[str, str],
    summer: dict[str, Any],
    role: Role,
) -> None:
    body = await redeemed(client, checkout)
    headers = bearer(keys[role])
    assert (await client.get("/v1/redemptions", headers=headers)).status_code == 403
    assert (await client.get(f"/v1/redemptions/{body['id']}", headers=headers)).status_code == 403


# Malformed bodies: 422 naming the field, never a 500, nothing consumed

DROP = object()  # a field left out of the body


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"order_id": DROP}, "order_id", id="missing-order_id"),
        pytest.param({"order_id": "x" * 129}, "order_id", id="order_id-too-long"),
        pytest.param({"order_id": ""}, "order_id", id="order_id-empty"),
        pytest.param({"order_id": 42}, "order_id", id="order_id-not-a-string"),
        pytest.param({"coupon": "FREE"}, "coupon", id="unknown-field"),
        pytest.param({"customer_id": "c" * 129}, "customer_id", id="customer_id-too-long"),
    ],
)
async def test_malformed_redemption_is_422_naming_the_field(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    summer: dict[str, Any],
    change: dict[str, Any],
    field: str,
) -> None:
    body = {key: value for key, value in {**order(), **change}.items() if value is not DROP}
    response = await client.post("/v1/redemptions", json=body, headers=with_key(checkout))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert await usage_of(client, marketer, summer["id"], "SUMMER20") == {
        "redemptions": 0,
        "budget_used": 0,
        "SUMMER20": 0,
    }


async def test_unparseable_redemption_body_is_400(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any]
) -> None:
    response = await client.post(
        "/v1/redemptions",
        content=b'{"code": "SUMMER20", "order_id": ',
        headers={**with_key(checkout), "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
