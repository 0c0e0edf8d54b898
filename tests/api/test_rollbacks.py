"""POST /v1/redemptions/{id}/rollback: full rollbacks and partial refunds.

A full rollback gives every counter and the whole discount back and reverses
the commission; a partial refund returns the budget's share of the discount
and shrinks the percentage commission by the same share (round half up, on
the cumulative refund), keeping usage counts and the fixed commission.
"""

from __future__ import annotations

import uuid
from fractions import Fraction
from math import floor
from typing import Any

import httpx
import pytest
from sqlalchemy import select
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
)
from tests.support.clock import FrozenClock
from tests.support.factories import bearer, make_affiliate
from tests.support.pii import ref

# 3 x 1999 = 5997 eligible; 20% = 1199.4 -> 1199 off; order amount 4798.
# Commission 10% of 4798 = 479.8 -> 480, plus 50 fixed: 530.
SHIRTS = cart(item("TSHIRT-1", 3, 1999, "summer"), item("GIFT-CARD", 1, 5000))
ORDER_AMOUNT, DISCOUNT, PERCENTAGE, FIXED = 4798, 1199, 480, 50
REPLAYED = "Idempotent-Replayed"


def half_up(value: Fraction) -> int:
    """Round a non-negative fraction half up (the oracle of the expectations below)."""
    return floor(value + Fraction(1, 2))


def budget_back(refunded: int) -> int:
    return half_up(Fraction(DISCOUNT * refunded, ORDER_AMOUNT))


def commission_left(refunded: int) -> int:
    """What is taken back is the refunded share, rounded half up (as for the budget)."""
    return FIXED + PERCENTAGE - half_up(Fraction(PERCENTAGE * refunded, ORDER_AMOUNT))


@pytest.fixture
async def campaign(client: httpx.AsyncClient, marketer: dict[str, str]) -> dict[str, Any]:
    return await create_campaign(
        client,
        marketer,
        limits={"max_redemptions": 10, "max_redemptions_per_customer": 1, "budget": 100_000},
        commission={"percent": 10, "fixed": FIXED},
    )


@pytest.fixture
async def anna(
    client: httpx.AsyncClient,
    marketer: dict[str, str],
    db: AsyncSession,
    clock: FrozenClock,
    campaign: dict[str, Any],
) -> Affiliate:
    """An affiliate with the code ANNA10 on the campaign (its default commission plan)."""
    affiliate = await make_affiliate(db, now=clock(), name="Anna")
    await create_code(
        client,
        marketer,
        campaign["id"],
        "ANNA10",
        max_redemptions=5,
        affiliate_id=encode(Kind.AFFILIATE, affiliate.id),
    )
    return affiliate


async def redeemed(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    code: str = "ANNA10",
    customer_id: str = "cus_1",
    order_id: str | None = None,
) -> dict[str, Any]:
    response = await redeem(
        client,
        checkout,
        code=code,
        cart=SHIRTS,
        customer_id=customer_id,
        order_id=order_id or f"ord_{uuid.uuid4().hex[:12]}",
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def redemption(
    client: httpx.AsyncClient, checkout: dict[str, str], anna: Affiliate
) -> dict[str, Any]:
    body = await redeemed(client, checkout)
    assert (body["order_amount"], body["discount"]["total"]) == (ORDER_AMOUNT, DISCOUNT)
    assert body["commission"] == PERCENTAGE + FIXED
    return body


async def ledger_of(db: AsyncSession, redemption_id: str) -> list[tuple[str, int, int, int]]:
    """(kind, order_amount, discount, commission) of the redemption's entries, in order."""
    rows = await db.execute(
        select(
            LedgerEntry.kind,
            LedgerEntry.order_amount,
            LedgerEntry.discount,
            LedgerEntry.commission,
        )
        .where(LedgerEntry.redemption_id == decode(Kind.REDEMPTION, redemption_id))
        .order_by(LedgerEntry.id)
    )
    return [(kind, amount, discount, commission) for kind, amount, discount, commission in rows]


async def customer_used(db: AsyncSession, campaign_id: str, key: str = "id:cus_1") -> int | None:
    used = await db.scalar(
        select(CustomerUsage.used).where(
            CustomerUsage.campaign_id == decode(Kind.CAMPAIGN, campaign_id),
            CustomerUsage.customer_ref == ref(key),
        )
    )
    return None if used is None else int(used)


async def current(
    client: httpx.AsyncClient, checkout: dict[str, str], redemption_id: str
) -> dict[str, Any]:
    response = await client.get(f"/v1/redemptions/{redemption_id}", headers=checkout)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# Full rollback


async def test_full_rollback_gives_back_one_use_everywhere_and_the_whole_discount(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    db: AsyncSession,
    clock: FrozenClock,
    campaign: dict[str, Any],
    redemption: dict[str, Any],
) -> None:
    assert await usage_of(client, marketer, campaign["id"], "ANNA10") == {
        "redemptions": 1,
        "budget_used": DISCOUNT,
        "ANNA10": 1,
    }
    assert await customer_used(db, campaign["id"]) == 1
    clock.advance(days=2)

    response = await rollback(client, checkout, redemption["id"], reason="order cancelled")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == redemption["id"]
    assert body["status"] == "rolled_back"
    assert body["rolled_back_at"] == "2026-07-03T12:00:00Z"
    assert body["refunded_amount"] == ORDER_AMOUNT
    assert await current(client, checkout, redemption["id"]) == body
    assert await usage_of(client, marketer, campaign["id"], "ANNA10") == {
        "redemptions": 0,
        "budget_used": 0,
        "ANNA10": 0,
    }
    assert await customer_used(db, campaign["id"]) == 0
    # The customer's one redemption on the campaign is free again.
    await redeemed(client, checkout)


async def test_full_rollback_appends_a_reversal_that_cancels_the_commission(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    db: AsyncSession,
    redemption: dict[str, Any],
) -> None:
    response = await rollback(client, checkout, redemption["id"], reason="order cancelled")
    assert response.status_code == 200, response.text
    entries = await ledger_of(db, redemption["id"])
    assert entries == [
        ("redemption", ORDER_AMOUNT, DISCOUNT, PERCENTAGE + FIXED),
        ("reversal", -ORDER_AMOUNT, -DISCOUNT, -(PERCENTAGE + FIXED)),
    ]
    assert sum(commission for *_, commission in entries) == 0
    note = await db.scalar(
        select(LedgerEntry.note).where(
            LedgerEntry.redemption_id == decode(Kind.REDEMPTION, redemption["id"]),
            LedgerEntry.kind == "reversal",
        )
    )
    assert note == "order cancelled"


async def test_full_rollback_of_a_code_without_affiliate_returns_its_discount(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    db: AsyncSession,
    campaign: dict[str, Any],
) -> None:
    await create_code(client, marketer, campaign["id"], "PLAIN")
    body = await redeemed(client, checkout, code="PLAIN")
    assert (await rollback(client, checkout, body["id"])).status_code == 200
    assert await ledger_of(db, body["id"]) == [
        ("redemption", ORDER_AMOUNT, DISCOUNT, 0),
        ("reversal", -ORDER_AMOUNT, -DISCOUNT, 0),
    ]
    assert await usage_of(client, marketer, campaign["id"], "PLAIN") == {
        "redemptions": 0,
        "budget_used": 0,
        "PLAIN": 0,
    }


# Partial refunds


async def test_partial_refund_keeps_usage_and_returns_the_budget_share(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    db: AsyncSession,
    campaign: dict[str, Any],
    redemption: dict[str, Any],
) -> None:
    response = await rollback(client, checkout, redemption["id"], amount=1000, reason="refund")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["refunded_amount"], body["rolled_back_at"]) == (
        "partially_refunded",
        1000,
        None,
    )
    assert budget_back(1000) == 250  # 1199 x 1000 / 4798 = 249.9
    assert await usage_of(client, marketer, campaign["id"], "ANNA10") == {
        "redemptions": 1,
        "budget_used": DISCOUNT - 250,
        "ANNA10": 1,
    }
    assert await customer_used(db, campaign["id"]) == 1
    # The customer's use still counts: a second redemption is still refused.
    again = await redeem(
        client, checkout, code="ANNA10", cart=SHIRTS, customer_id="cus_1", order_id="ord_next"
    )
    assert again.json()["code"] == "customer_limit_reached"


async def test_partial_refund_shrinks_only_the_percentage_commission(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    db: AsyncSession,
    redemption: dict[str, Any],
) -> None:
    response = await rollback(client, checkout, redemption["id"], amount=1000)
    assert response.status_code == 200, response.text
    assert commission_left(1000) == 430  # 50 + 480 x 3798 / 4798 = 50 + 379.96
    assert await ledger_of(db, redemption["id"]) == [
        ("redemption", ORDER_AMOUNT, DISCOUNT, 530),
        ("refund", -1000, -250, 430 - 530),
    ]


async def test_a_refund_takes_back_its_share_of_the_commission_rounded_half_up(
    client: httpx.AsyncClient, checkout: dict[str, str], db: AsyncSession, anna: Affiliate
) -> None:
    """Order 8000 (10000 less 20%), commission 800 + 50: refunding 5 is a share of
    0.5 of the percentage part, taken back as 1; refunding 5 more makes exactly
    1 in all, so nothing more is taken; the rest reverses what is left."""
    response = await redeem(
        client,
        checkout,
        code="ANNA10",
        cart=cart(item("TSHIRT-1", 1, 10000, "summer"), shipping=0),
        customer_id="cus_half",
        order_id="ord_half",
    )
    assert response.status_code == 201, response.text
    sale = response.json()
    assert (sale["order_amount"], sale["commission"]) == (8000, 850)
    for amount in (5, 5, 7990):
        refund = await rollback(client, checkout, sale["id"], amount=amount)
        assert refund.status_code == 200, refund.text
    commissions = [commission for *_, commission in await ledger_of(db, sale["id"])]
    assert commissions == [850, -1, 0, -849]


async def test_fixed_commission_stays_until_the_full_rollback(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    db: AsyncSession,
    redemption: dict[str, Any],
) -> None:
    almost_all = ORDER_AMOUNT - 1
    assert (
        await rollback(client, checkout, redemption["id"], amount=almost_all)
    ).status_code == 200
    entries = await ledger_of(db, redemption["id"])
    assert sum(commission for *_, commission in entries) == FIXED
    last = await rollback(client, checkout, redemption["id"], amount=1)
    assert last.status_code == 200, last.text
    assert last.json()["status"] == "rolled_back"
    entries = await ledger_of(db, redemption["id"])
    assert [kind for kind, *_ in entries] == ["redemption", "refund", "reversal"]
    assert entries[-1][3] == -FIXED
    assert sum(commission for *_, commission in entries) == 0


async def test_refunds_reaching_the_order_amount_are_a_full_rollback(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    db: AsyncSession,
    campaign: dict[str, Any],
    redemption: dict[str, Any],
) -> None:
    refunded = 0
    budget_returned = 0
    for amount in (1000, 1000):
        response = await rollback(client, checkout, redemption["id"], amount=amount)
        assert response.status_code == 200, response.text
        refunded += amount
        budget_returned = budget_back(refunded)  # cumulative: no drift over refunds
        assert response.json()["status"] == "partially_refunded"
        assert response.json()["refunded_amount"] == refunded
        usage = await usage_of(client, marketer, campaign["id"], "ANNA10")
        assert usage == {"redemptions": 1, "budget_used": DISCOUNT - budget_returned, "ANNA10": 1}
    assert budget_returned == 500  # 1199 x 2000 / 4798 = 499.8, not 250 + 250 by luck only

    last = await rollback(client, checkout, redemption["id"], amount=ORDER_AMOUNT - refunded)
    assert last.status_code == 200, last.text
    assert last.json()["status"] == "rolled_back"
    assert last.json()["refunded_amount"] == ORDER_AMOUNT
    assert await usage_of(client, marketer, campaign["id"], "ANNA10") == {
        "redemptions": 0,
        "budget_used": 0,
        "ANNA10": 0,
    }
    assert await customer_used(db, campaign["id"]) == 0
    entries = await ledger_of(db, redemption["id"])
    assert entries == [
        ("redemption", ORDER_AMOUNT, DISCOUNT, 530),
        ("refund", -1000, -250, commission_left(1000) - 530),
        ("refund", -1000, -250, commission_left(2000) - commission_left(1000)),
        ("reversal", -2798, -(DISCOUNT - 500), -commission_left(2000)),
    ]
    assert sum(commission for *_, commission in entries) == 0
    assert sum(discount for _, _, discount, _ in entries) == 0
    assert sum(amount for _, amount, _, _ in entries) == 0


async def test_full_rollback_after_a_partial_refund_returns_only_what_is_left(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    db: AsyncSession,
    campaign: dict[str, Any],
    redemption: dict[str, Any],
) -> None:
    assert (await rollback(client, checkout, redemption["id"], amount=1000)).status_code == 200
    full = await rollback(client, checkout, redemption["id"])
    assert full.status_code == 200, full.text
    assert full.json()["status"] == "rolled_back"
    usage = await usage_of(client, marketer, campaign["id"], "ANNA10")
    assert usage == {"redemptions": 0, "budget_used": 0, "ANNA10": 0}
    entries = await ledger_of(db, redemption["id"])
    assert entries[-1] == ("reversal", -3798, -(DISCOUNT - 250), -430)
    assert sum(commission for *_, commission in entries) == 0


async def test_refund_uses_the_commission_granted_not_the_current_plan(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    db: AsyncSession,
    campaign: dict[str, Any],
    redemption: dict[str, Any],
) -> None:
    patched = await client.patch(
        f"/v1/campaigns/{campaign['id']}",
        json={"commission": {"percent": 50, "fixed": 0}},
        headers=marketer,
    )
    assert patched.status_code == 200, patched.text
    assert (await rollback(client, checkout, redemption["id"], amount=1000)).status_code == 200
    assert (await ledger_of(db, redemption["id"]))[-1][3] == commission_left(1000) - 530
    assert (await rollback(client, checkout, redemption["id"])).status_code == 200
    assert sum(commission for *_, commission in await ledger_of(db, redemption["id"])) == 0


async def test_rollback_still_returns_usage_of_a_paused_campaign_and_disabled_code(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    campaign: dict[str, Any],
    redemption: dict[str, Any],
) -> None:
    await client.patch(
        f"/v1/campaigns/{campaign['id']}", json={"status": "paused"}, headers=marketer
    )
    disabled = await client.patch("/v1/codes/ANNA10", json={"active": False}, headers=marketer)
    assert disabled.is_success
    response = await rollback(client, checkout, redemption["id"])
    assert response.status_code == 200, response.text
    usage = await usage_of(client, marketer, campaign["id"], "ANNA10")
    assert usage == {"redemptions": 0, "budget_used": 0, "ANNA10": 0}


# Refusals


async def test_refund_beyond_what_is_left_is_409_and_writes_nothing(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    db: AsyncSession,
    campaign: dict[str, Any],
    redemption: dict[str, Any],
) -> None:
    too_much = await rollback(client, checkout, redemption["id"], amount=ORDER_AMOUNT + 1)
    assert too_much.status_code == 409, too_much.text
    assert too_much.json()["code"] == "refund_exceeds_order"

    assert (await rollback(client, checkout, redemption["id"], amount=4000)).status_code == 200
    before = (
        await usage_of(client, marketer, campaign["id"], "ANNA10"),
        await ledger_of(db, redemption["id"]),
        await current(client, checkout, redemption["id"]),
    )
    response = await rollback(client, checkout, redemption["id"], amount=ORDER_AMOUNT - 4000 + 1)
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "refund_exceeds_order"
    after = (
        await usage_of(client, marketer, campaign["id"], "ANNA10"),
        await ledger_of(db, redemption["id"]),
        await current(client, checkout, redemption["id"]),
    )
    assert after == before
    assert after[2]["refunded_amount"] == 4000


@pytest.mark.parametrize("second", [{}, {"amount": 1}], ids=["full", "partial"])
async def test_rollback_of_a_rolled_back_redemption_is_409(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    db: AsyncSession,
    campaign: dict[str, Any],
    redemption: dict[str, Any],
    second: dict[str, Any],
) -> None:
    assert (await rollback(client, checkout, redemption["id"])).status_code == 200
    response = await rollback(client, checkout, redemption["id"], **second)
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "already_rolled_back"
    # Nothing given back twice.
    usage = await usage_of(client, marketer, campaign["id"], "ANNA10")
    assert usage == {"redemptions": 0, "budget_used": 0, "ANNA10": 0}
    assert await customer_used(db, campaign["id"]) == 0
    assert [kind for kind, *_ in await ledger_of(db, redemption["id"])] == [
        "redemption",
        "reversal",
    ]


@pytest.mark.parametrize("body", [{}, {"amount": 1000}], ids=["full", "partial"])
async def test_repeated_rollback_with_the_same_key_replays_the_first_200(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    db: AsyncSession,
    campaign: dict[str, Any],
    redemption: dict[str, Any],
    body: dict[str, Any],
) -> None:
    key = str(uuid.uuid4())
    first = await rollback(client, checkout, redemption["id"], key=key, **body)
    assert first.status_code == 200, first.text
    usage = await usage_of(client, marketer, campaign["id"], "ANNA10")
    entries = await ledger_of(db, redemption["id"])
    again = await rollback(client, checkout, redemption["id"], key=key, **body)
    assert again.status_code == 200, again.text
    assert again.headers[REPLAYED] == "true"
    assert again.content == first.content
    assert await usage_of(client, marketer, campaign["id"], "ANNA10") == usage
    assert await ledger_of(db, redemption["id"]) == entries
    assert len(entries) == 2


@pytest.mark.parametrize("public_id", ["red_nope", encode(Kind.REDEMPTION, 987_654_321)])
async def test_rollback_of_an_unknown_redemption_is_404(
    client: httpx.AsyncClient, checkout: dict[str, str], public_id: str
) -> None:
    response = await rollback(client, checkout, public_id)
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "redemption_not_found"


@pytest.mark.parametrize("amount", [0, -1, -1000, 1.5, True])
async def test_refund_amount_must_be_a_positive_integer(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    db: AsyncSession,
    redemption: dict[str, Any],
    amount: Any,
) -> None:
    response = await rollback(client, checkout, redemption["id"], amount=amount)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "amount"
    assert (await current(client, checkout, redemption["id"]))["status"] == "active"
    assert len(await ledger_of(db, redemption["id"])) == 1


@pytest.mark.parametrize("role", [Role.MARKETER, Role.AFFILIATE, Role.ACCOUNTANT])
async def test_only_checkout_and_admin_may_roll_back(
    client: httpx.AsyncClient,
    keys: dict[Role, str],
    checkout: dict[str, str],
    redemption: dict[str, Any],
    role: Role,
) -> None:
    response = await rollback(client, bearer(keys[role]), redemption["id"])
    assert response.status_code == 403, response.text
    assert (await current(client, checkout, redemption["id"]))["status"] == "active"
    admin = await rollback(client, bearer(keys[Role.ADMIN]), redemption["id"])
    assert admin.status_code == 200, admin.text
