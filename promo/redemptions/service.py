"""Redeem and roll back: one short transaction each, correct under concurrency.

Redeem re-validates the code against the cart, then consumes campaign, code
and customer usage with conditional UPDATEs (in that fixed order), records
the redemption with the terms it was granted, and appends its ledger entry.
Any refusal raises, and the request's transaction rolls back everything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import msgspec
from sqlalchemy import Table, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from promo.campaigns.eligibility import MESSAGES, Accepted, Offer, Reason, Refused
from promo.codes.models import Code
from promo.db import dialect
from promo.db.autocommit import Autocommit, InSession, Unit
from promo.errors import Conflict, NotFound
from promo.ledger import entries as ledger
from promo.ledger.commission import commission_after_refund, commission_for, share
from promo.redemptions import counters, one_statement
from promo.redemptions.identity import customer_key
from promo.redemptions.models import Redemption
from promo.redemptions.schemas import RedeemRequest
from promo.redemptions.validation import validate

redemptions = cast(Table, Redemption.__table__)


def _record_redemption(insert: Any) -> Any:
    """One redemption per live order: a second one inserts nothing."""
    return (
        insert(redemptions)
        .on_conflict_do_nothing(
            index_elements=["order_id"], index_where=text("rolled_back_at IS NULL")
        )
        .returning(redemptions.c.id)
    )


# Built once (see promo.redemptions.queries); the columns come with the parameters.
RECORD_REDEMPTION = dialect.prebuilt(_record_redemption)


def refusal(reason: Reason, details: dict[str, object] | None = None) -> Conflict:
    """A redemption refused for a validation reason: 409 whose code is the reason."""
    return Conflict(
        reason.value, MESSAGES[reason], extra={"reason": reason.value, **(details or {})}
    )


async def redeem(
    unit: Unit,
    request: RedeemRequest,
    *,
    now: datetime,
    reads: Autocommit | None = None,
    usage_first: bool = False,
) -> tuple[Redemption, str]:
    """Redeem ``request`` or raise 409 with the reason. ``usage_first``: see ``decide``.

    The offer may be read outside the transaction (``reads``; default: inside
    it): every condition it was granted on is checked again by the statements
    that consume it. Returns the redemption and the code as typed for the campaign.
    """
    offer, decision = await validate(reads or unit, request, now=now, usage_first=usage_first)
    if isinstance(decision, Refused):
        raise refusal(decision.reason, decision.details)
    assert offer is not None  # noqa: S101 (an Accepted decision always has an offer)
    return await _consume_and_record(unit, request, offer, decision, now=now), offer.code.display


def granted(
    request: RedeemRequest, offer: Offer, decision: Accepted, *, now: datetime
) -> Redemption:
    """The redemption ``decision`` grants, not yet written (no id)."""
    campaign, code = offer.campaign, offer.code
    discount = decision.discount
    items_discount = discount.total - discount.shipping
    order_amount = decision.eligible_subtotal - items_discount
    commission, fixed = (
        commission_for(order_amount, offer.plan) if code.affiliate_id is not None else (0, 0)
    )
    return Redemption(
        code_id=code.id,
        campaign_id=campaign.id,
        affiliate_id=code.affiliate_id,
        customer_key=customer_key(request.customer_id, request.customer_email),
        customer_id=request.customer_id,
        order_id=request.order_id,
        currency=campaign.currency,
        order_amount=order_amount,
        discount_total=discount.total,
        discount_shipping=discount.shipping,
        discount_lines=msgspec.to_builtins(discount.lines),
        commission=commission,
        commission_fixed=fixed,
        refunded_amount=0,
        budget_returned=0,
        created_at=now,
        rolled_back_at=None,
    )


async def _consume_and_record(
    unit: Unit,
    request: RedeemRequest,
    offer: Offer,
    decision: Accepted,
    *,
    now: datetime,
) -> Redemption:
    redemption = granted(request, offer, decision, now=now)
    if unit.dialect == "postgresql":
        redemption.id = await _in_one_statement(unit, redemption, offer)
    else:
        assert isinstance(unit, InSession)  # noqa: S101 (SQLite runs under SQLAlchemy)
        redemption.id = await _step_by_step(unit.session, redemption, offer)
    return redemption


async def _in_one_statement(unit: Unit, red: Redemption, offer: Offer) -> int:
    steps = await one_statement.consume_and_record(unit, red, offer)
    if steps.redemption_id is not None:
        return steps.redemption_id
    if not steps.campaign_taken:
        raise refusal(await counters.campaign_refusal(unit, red.campaign_id))
    if not steps.code_taken:
        raise refusal(await counters.code_refusal(unit, red.code_id))
    if red.customer_key is not None and not steps.customer_counted:
        raise refusal(Reason.CUSTOMER_LIMIT_REACHED)
    raise _order_taken(red.order_id)


async def _step_by_step(session: AsyncSession, red: Redemption, offer: Offer) -> int:
    reason = await counters.consume_campaign(session, red.campaign_id, red.discount_total)
    reason = reason or await counters.consume_code(session, red.code_id)
    if reason is None and red.customer_key is not None:
        reason = await counters.consume_customer(
            session, red.campaign_id, red.customer_key, offer.campaign.max_redemptions_per_customer
        )
    if reason is not None:
        raise refusal(reason)
    connection = await session.connection()
    columns = {c.key: getattr(red, c.key) for c in redemptions.columns if c.key != "id"}
    result = await connection.execute(dialect.for_dialect(session, RECORD_REDEMPTION), columns)
    redemption_id = result.scalar()
    if redemption_id is None:
        raise _order_taken(red.order_id)
    await ledger.append(
        session,
        kind="redemption",
        now=red.created_at,
        currency=red.currency,
        holding_days=offer.holding_days,
        redemption_id=redemption_id,
        order_id=red.order_id,
        code=offer.code.display,
        campaign_id=red.campaign_id,
        affiliate_id=red.affiliate_id,
        order_amount=red.order_amount,
        discount=red.discount_total,
        commission=red.commission,
    )
    return int(redemption_id)


def _order_taken(order_id: str) -> Conflict:
    return Conflict("order_already_redeemed", f"Order {order_id!r} already has a redemption")


async def get_redemption(session: AsyncSession, redemption_id: int | None) -> Redemption:
    found = await session.get(Redemption, redemption_id) if redemption_id is not None else None
    if found is None:
        raise NotFound("redemption_not_found", "No such redemption")
    return found


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
    # Lock order as in redeem: the campaign row first, then the redemption.
    await counters.lock_campaign(session, found.campaign_id)
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
    await counters.release(
        session,
        campaign_id=red.campaign_id,
        code_id=red.code_id,
        customer_key=red.customer_key,
        budget=budget_back,
        redemption=full,
    )
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
    )
    await session.refresh(red)
    return red


async def code_text(session: AsyncSession, code_id: int) -> str:
    text_ = await session.scalar(select(Code.code).where(Code.id == code_id))
    return str(text_)


async def list_redemptions(
    session: AsyncSession,
    *,
    order_id: str | None,
    canonical_code: str | None,
    customer_id: str | None,
    campaign_id: int | None,
    after_id: int | None,
    limit: int,
    affiliate_id: int | None = None,
) -> list[tuple[Redemption, str]]:
    """Redemptions in id order with their code's display form."""
    query = (
        select(Redemption, Code.code)
        .join(Code, Code.id == Redemption.code_id)
        .order_by(Redemption.id)
        .limit(limit)
    )
    if order_id is not None:
        query = query.where(Redemption.order_id == order_id)
    if canonical_code is not None:
        query = query.where(Code.canonical == canonical_code)
    if customer_id is not None:
        query = query.where(Redemption.customer_id == customer_id)
    if campaign_id is not None:
        query = query.where(Redemption.campaign_id == campaign_id)
    if affiliate_id is not None:
        query = query.where(Redemption.affiliate_id == affiliate_id)
    if after_id is not None:
        query = query.where(Redemption.id > after_id)
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]
