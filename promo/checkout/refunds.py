"""Roll back and refund: give back what a redemption consumed, exactly once.

A full rollback gives every counter, the first order and the whole budget
back (``steps.give_back``, the inverse of the consuming steps) and reverses
the commission; a partial refund gives back the budget's share of the
refunded part and shrinks the percentage commission by the same share
(promo.plans.pricing: cumulative share, round half up). Runs in the
request's transaction under its Idempotency-Key (promo.checkout.idempotency),
with its event (redemption.rolled_back or redemption.refunded, whose payload
is the redemption as answered), so a refusal leaves no event either.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from promo.checkout import steps
from promo.checkout.listing import code_text, get_redemption
from promo.checkout.models import Redemption
from promo.checkout.views import redemption_read
from promo.db import dialect
from promo.db.autocommit import InSession
from promo.errors import Conflict
from promo.events import outbox
from promo.events.outbox import EventType
from promo.ledger import entries as ledger
from promo.plans.pricing import commission_after_refund, share

redemptions = cast(Table, Redemption.__table__)


async def rollback(
    session: AsyncSession,
    redemption_id: int | None,
    *,
    amount: int | None,
    note: str | None,
    now: datetime,
) -> Redemption:
    """Full rollback (``amount`` None, or refunds reaching the order amount) or a
    partial refund of ``amount`` of the order amount."""
    found = await get_redemption(session, redemption_id)
    unit = InSession(session)
    # Lock order as in redeem: the campaign row first, then the redemption.
    await unit.first(steps.LOCK_CAMPAIGN, {"campaign_id": found.campaign_id})
    query = (
        select(Redemption)
        .where(Redemption.id == found.id)
        .execution_options(populate_existing=True)
    )
    if dialect.is_postgres(session):
        query = query.with_for_update()
    red = (await session.scalars(query)).one()
    if red.rolled_back_at is not None:
        raise Conflict("already_rolled_back", "This redemption is already fully rolled back")
    remaining = red.order_amount - red.refunded_amount
    if amount is not None and amount > remaining:
        raise Conflict(
            "refund_exceeds_order",
            f"Refund of {amount} exceeds what is left of the order amount ({remaining})",
            extra={"refundable": remaining},
        )
    full = amount is None or amount == remaining
    refunded_total = red.order_amount if full else red.refunded_amount + (amount or 0)
    budget_back_total = (
        red.discount_total if full else share(red.discount_total, refunded_total, red.order_amount)
    )
    budget_back = budget_back_total - red.budget_returned
    current = await ledger.commission_of_redemption(session, red.id)
    target = (
        0
        if full
        else commission_after_refund(
            red.commission, red.commission_fixed, red.order_amount, refunded_total
        )
    )
    await steps.give_back(
        unit,
        campaign_id=red.campaign_id,
        code_id=red.code_id,
        customer_refs=tuple(r for r in (red.customer_ref, red.customer_alt_ref) if r is not None),
        budget=budget_back,
        redemption=full,
    )
    if full and red.commission_period is not None:
        await steps.uncount_period(unit, red)
    await session.execute(
        update(redemptions)
        .where(redemptions.c.id == red.id)
        .values(
            refunded_amount=refunded_total,
            budget_returned=budget_back_total,
            rolled_back_at=now if full else None,
        )
    )
    code = await code_text(session, red.code_id)
    await ledger.append(
        session,
        kind="reversal" if full else "refund",
        now=now,
        currency=red.currency,
        redemption_id=red.id,
        order_id=red.order_id,
        code=code,
        campaign_id=red.campaign_id,
        affiliate_id=red.affiliate_id,
        order_amount=-(refunded_total - red.refunded_amount),
        discount=-budget_back,
        commission=target - current,
        note=note,
        plan_id=red.commission_plan_id,
        plan_revision=red.commission_plan_revision,
        rate=red.commission_rate,
    )
    await session.refresh(red)
    event = EventType.REDEMPTION_ROLLED_BACK if full else EventType.REDEMPTION_REFUNDED
    await outbox.emit(session, event, redemption_read(red, code), now=now)
    return red
