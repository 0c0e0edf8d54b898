"""Reservations: a discount held while the shopper pays, then confirmed, released or expired.

Reserving validates as a redemption does and runs the steps of
promo.checkout.steps composed as ``HOLD``: the reservation's row in place of
the redemption's, then the very statements that consume the campaign's count
and budget, the code's use, the customer's uses and first-order marks, then
its answer under the Idempotency-Key. Nothing is consumed twice and nothing
is written for it alone: the limits stay one implementation.

A reservation leaves ``held`` exactly once, by a conditional UPDATE (``held``
and, for a confirmation, not yet expired):

- confirmed (``CONFIRM``: the redemption's row, the transition, then the
  steps that record a sale: its period, ledger entry, event and answer):
  the hold becomes the redemption's use, nothing more is consumed; a
  confirmation whose order already has a redemption stops at the
  redemption's row and leaves the reservation held;
- released or expired: the transition and the rollback's inverse statements
  (``steps.give_back``) in one transaction, the campaign's row locked first
  as a rollback does; the one of them whose UPDATE finds it still held gives
  everything back, any other finds nothing to do.

Expiry: a job (``reservation_expiry``, every two seconds) gives back the
holds whose time is up. A reserve or redeem that meets a code whose uses are
all taken, some of them held, is told ``code_reserved`` with the earliest
expiry (promo.checkout.eligibility.code_spent), even when that expiry has
just passed and the job has not run yet: a retry seconds later finds the use
given back. (Reclaiming expired holds inline would put a second writer of
the same transition on the hot path for a gain of at most two seconds.)

A hold keeps the terms of the redemption it grants (discount per line,
commission and what priced it, ``Terms``): a confirmation writes those, at
the instant it is confirmed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import msgspec
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from promo.checkout import idempotency, steps
from promo.checkout.eligibility import Refused
from promo.checkout.idempotency import Answer, AnswerKey
from promo.checkout.models import Redemption, Reservation
from promo.checkout.reasons import Reason
from promo.checkout.redemption import (
    Checkout,
    answer_around_id,
    answer_parameters,
    around_id,
    granted,
    limit_parameters,
    record_parameters,
    refusal,
    refuse,
)
from promo.checkout.schemas import DiscountOut, LineOut, ReservationRead, ReserveRequest
from promo.checkout.throttle import Attempt
from promo.checkout.validation import validate
from promo.checkout.views import redemption_read
from promo.codes.models import Code
from promo.db.autocommit import Autocommit, InSession
from promo.errors import Conflict, NotFound, render_domain_error
from promo.identity import Identity
from promo.ids import Kind, encode
from promo.plans.pricing import period_of

reservations = cast(Table, Reservation.__table__)
redemptions = cast(Table, Redemption.__table__)
codes = cast(Table, Code.__table__)


class Terms(msgspec.Struct, frozen=True):
    """The redemption a hold grants, beyond its row's columns."""

    code: str  # as displayed
    order_amount: int
    commission: int
    commission_fixed: int
    plan_id: int | None
    plan_revision: int | None
    rate: Decimal | None
    tier: int
    # The timezone of the plan's periods, when it counts the sale in one.
    period_timezone: str | None
    commission_lines: list[dict[str, Any]]
    holding_days: int


def reservation_read(row: Any, code: str) -> ReservationRead:
    """One rendering of a reservation (its row or ORM object), for every answer."""
    return ReservationRead(
        id=encode(Kind.RESERVATION, row.id) if row.id else "",
        code=code,
        campaign_id=encode(Kind.CAMPAIGN, row.campaign_id),
        affiliate_id=encode(Kind.AFFILIATE, row.affiliate_id) if row.affiliate_id else None,
        customer_ref=row.customer_ref,
        currency=row.currency,
        discount=DiscountOut(
            total=row.discount_total,
            shipping=row.discount_shipping,
            lines=[LineOut(**line) for line in row.discount_lines],
        ),
        status=row.status,
        created_at=row.created_at,
        expires_at=row.expires_at,
        ended_at=row.ended_at,
        order_id=row.order_id,
        redemption_id=encode(Kind.REDEMPTION, row.redemption_id) if row.redemption_id else None,
    )


def _held(red: Redemption, *, expires_at: datetime) -> Reservation:
    """The reservation of ``red`` (not yet written), as its answer shows it."""
    return Reservation(
        id=0,
        code_id=red.code_id,
        campaign_id=red.campaign_id,
        affiliate_id=red.affiliate_id,
        customer_ref=red.customer_ref,
        customer_alt_ref=red.customer_alt_ref,
        status="held",
        currency=red.currency,
        discount_total=red.discount_total,
        discount_shipping=red.discount_shipping,
        discount_lines=red.discount_lines,
        created_at=red.created_at,
        expires_at=expires_at,
        ended_at=None,
        order_id=None,
        redemption_id=None,
    )


async def reserve(
    checkout: Checkout,
    request: ReserveRequest,
    identity: Identity,
    key: AnswerKey,
    attempt: Attempt,
    *,
    now: datetime,
) -> Answer:
    """Hold ``request``'s discount once under ``key``: 201 with the reservation,
    409 with the reason, or the first answer given under ``key``, replayed."""
    offer, shopper, decision = await validate(
        checkout.reads, request, identity, now=now, usage_first=checkout.uniform, consuming=True
    )
    if isinstance(decision, Refused):
        return await refuse(
            checkout, key, attempt, decision.reason, decision.details, now, operation="reserve"
        )
    assert offer is not None  # noqa: S101 (an Accepted decision always has an offer)
    await attempt.succeeded()
    red = granted(request, offer, shopper, decision, now=now)
    terms = Terms(
        code=offer.code.display,
        order_amount=red.order_amount,
        commission=red.commission,
        commission_fixed=red.commission_fixed,
        plan_id=red.commission_plan_id,
        plan_revision=red.commission_plan_revision,
        rate=red.commission_rate,
        tier=red.commission_tier,
        period_timezone=offer.plan.timezone if red.commission_period is not None else None,
        commission_lines=red.commission_lines,
        holding_days=offer.holding_days,
    )
    held = _held(red, expires_at=now + timedelta(seconds=request.ttl_seconds))
    head, tail = around_id(reservation_read(held, offer.code.display))
    params = {
        **record_parameters(
            red,
            code=offer.code.display,
            plan_timezone=offer.plan.timezone,
            holding_days=offer.holding_days,
        ),
        **limit_parameters(red, offer, identity),
        **answer_parameters(key, head, tail),
        "terms": msgspec.to_builtins(terms),
        "expires_at": held.expires_at,
    }

    def body(reservation_id: int) -> bytes:
        return head + encode(Kind.RESERVATION, reservation_id).encode() + tail

    result = await steps.run(checkout.writes, params, body, steps.HOLD)
    if isinstance(result, steps.Stopped):
        if result.step == "answer":
            return await idempotency.replay(checkout.reads, key)
        refused = await steps.refusal_at(checkout.reads, result, params)
        return await refuse(
            checkout, key, attempt, refused.reason, refused.details, now, operation="reserve"
        )
    return Answer(201, body(result))


RESERVATION = select(reservations).where(reservations.c.id == bindparam("reservation_id"))
REDEMPTION = select(redemptions).where(redemptions.c.id == bindparam("redemption_id"))


def _not_found() -> NotFound:
    return NotFound("reservation_not_found", "No such reservation")


async def _load(reads: Autocommit, reservation_id: int) -> Any:
    """The reservation's row, with attribute access; 404 when there is none."""
    row = await reads.first(RESERVATION, {"reservation_id": reservation_id})
    if row is None:
        raise _not_found()
    return SimpleNamespace(**row)


def settled(row: Any, order_id: str, now: datetime) -> Conflict | None:
    """Why a reservation can no longer be confirmed for ``order_id`` (None: it is
    held and not expired, or already confirmed for that very order)."""
    if row.status == "confirmed":
        if row.order_id == order_id:
            return None
        return Conflict(
            "reservation_confirmed",
            "This reservation is already confirmed, for another order",
            extra={
                "reason": "reservation_confirmed",
                "redemption_id": encode(Kind.REDEMPTION, row.redemption_id),
            },
        )
    if row.status == "released":
        return Conflict(
            "reservation_released",
            "This reservation was released: its discount is no longer held",
            extra={"reason": "reservation_released"},
        )
    if row.status == "expired" or row.expires_at <= now:
        return Conflict(
            "reservation_expired",
            "This reservation expired: its discount is no longer held",
            extra={"reason": "reservation_expired", "expired_at": row.expires_at.isoformat()},
        )
    return None


async def _settled_answer(
    checkout: Checkout, key: AnswerKey, row: Any, order_id: str, now: datetime
) -> Answer | None:
    """The answer to a confirmation of a reservation that is no longer held
    (stored under ``key``), or None when it is still held."""
    conflict = settled(row, order_id, now)
    if conflict is not None:
        status, body = render_domain_error(conflict)
        return await idempotency.store_or_replay(checkout.writes, key, status, body, now=now)
    if row.status != "confirmed":
        return None
    # Confirmed for this order already: the redemption it became, as it is now.
    red_row = await checkout.reads.first(REDEMPTION, {"redemption_id": row.redemption_id})
    assert red_row is not None  # noqa: S101 (a confirmed reservation names its redemption)
    red = Redemption(**dict(red_row))
    body = msgspec.json.encode(redemption_read(red, row.terms["code"]))
    return await idempotency.store_or_replay(checkout.writes, key, 201, body, now=now)


def _redemption_of(row: Any, terms: Terms, order_id: str, now: datetime) -> Redemption:
    """The redemption a held reservation becomes for ``order_id``, at ``now``."""
    period = None
    if terms.period_timezone is not None:
        period = period_of(now, terms.period_timezone).key
    return Redemption(
        id=0,
        code_id=row.code_id,
        campaign_id=row.campaign_id,
        affiliate_id=row.affiliate_id,
        customer_ref=row.customer_ref,
        customer_alt_ref=row.customer_alt_ref,
        order_id=order_id,
        currency=row.currency,
        order_amount=terms.order_amount,
        discount_total=row.discount_total,
        discount_shipping=row.discount_shipping,
        discount_lines=row.discount_lines,
        commission=terms.commission,
        commission_fixed=terms.commission_fixed,
        commission_plan_id=terms.plan_id,
        commission_plan_revision=terms.plan_revision,
        commission_rate=terms.rate,
        commission_tier=terms.tier,
        commission_period=period,
        commission_lines=terms.commission_lines,
        refunded_amount=0,
        budget_returned=0,
        created_at=now,
        rolled_back_at=None,
    )


async def confirm(
    checkout: Checkout, reservation_id: int, order_id: str, key: AnswerKey, *, now: datetime
) -> Answer:
    """Turn a held reservation into the redemption of ``order_id``: 201 with the
    redemption (as ``POST /v1/redemptions`` answers), 409 when it is no longer
    held or the order already has a redemption, or the first answer under ``key``."""
    found = await _load(checkout.reads, reservation_id)
    answered = await _settled_answer(checkout, key, found, order_id, now)
    if answered is not None:
        return answered
    terms = msgspec.convert(found.terms, Terms)
    red = _redemption_of(found, terms, order_id, now)
    head, tail = answer_around_id(red, terms.code)
    params = {
        **record_parameters(
            red,
            code=terms.code,
            plan_timezone=terms.period_timezone or "UTC",
            holding_days=terms.holding_days,
        ),
        **answer_parameters(key, head, tail),
        "reservation_id": reservation_id,
    }

    def body(redemption_id: int) -> bytes:
        return head + encode(Kind.REDEMPTION, redemption_id).encode() + tail

    if red.commission_period is not None:
        await steps.open_period(checkout.writes, params)
    result = await steps.run(checkout.writes, params, body, steps.CONFIRM)
    if isinstance(result, steps.Stopped):
        if result.step == "answer":
            return await idempotency.replay(checkout.reads, key)
        if result.step == "redemption":
            status, problem = render_domain_error(refusal(Reason.ORDER_ALREADY_REDEEMED))
            return await idempotency.store_or_replay(checkout.writes, key, status, problem, now=now)
        # Released, expired or confirmed meanwhile: told as it now is.
        current = await _load(checkout.reads, reservation_id)
        answered = await _settled_answer(checkout, key, current, order_id, now)
        assert answered is not None  # noqa: S101 (the transition found it no longer held)
        return answered
    return Answer(201, body(result))


# Leaving ``held`` for ``released`` or ``expired``: the one conditional
# transition, then the rollback's inverse statements.
END = (
    update(reservations)
    .where(
        reservations.c.id == bindparam("reservation_id"),
        reservations.c.status == "held",
        reservations.c.expires_at <= bindparam("expired_by"),
    )
    .values(status=bindparam("to_status"), ended_at=bindparam("ended_at"))
    .returning(
        reservations.c.campaign_id,
        reservations.c.code_id,
        reservations.c.customer_ref,
        reservations.c.customer_alt_ref,
        reservations.c.discount_total,
    )
)
# Far enough ahead that a release ends a hold whatever its expiry.
FOREVER = datetime(9999, 12, 31, tzinfo=UTC)


async def _end(
    unit: InSession, reservation_id: int, campaign_id: int, to_status: str, *, now: datetime
) -> bool:
    """End a held reservation as ``to_status`` and give back what it held, in
    the caller's transaction; False when it was no longer held (a confirmation,
    a release or the expiry got there first, and then nothing changes). An
    expiry ends only a hold whose time is up."""
    # Lock order as in a rollback: the campaign row first.
    await unit.first(steps.LOCK_CAMPAIGN, {"campaign_id": campaign_id})
    expired_by = now if to_status == "expired" else FOREVER
    row = await unit.first(
        END,
        {
            "reservation_id": reservation_id,
            "to_status": to_status,
            "ended_at": now,
            "expired_by": expired_by,
        },
    )
    if row is None:
        return False
    await steps.give_back(
        unit,
        campaign_id=row["campaign_id"],
        code_id=row["code_id"],
        customer_refs=tuple(
            ref for ref in (row["customer_ref"], row["customer_alt_ref"]) if ref is not None
        ),
        budget=row["discount_total"],
        redemption=True,
    )
    return True


async def get_reservation(session: AsyncSession, reservation_id: int) -> Reservation:
    found = await session.get(Reservation, reservation_id, populate_existing=True)
    if found is None:
        raise _not_found()
    return found


def code_of(reservation: Reservation) -> str:
    """The reservation's code, as displayed when it was held."""
    return str(reservation.terms["code"])


async def release(session: AsyncSession, reservation_id: int, *, now: datetime) -> Reservation:
    """Give back everything a reservation holds. Idempotent: a released or
    expired one is answered as it is; 409 ``reservation_confirmed`` when it
    became a redemption (roll that back instead)."""
    found = await get_reservation(session, reservation_id)
    if found.status == "held":
        await _end(InSession(session), found.id, found.campaign_id, "released", now=now)
        found = await get_reservation(session, reservation_id)
    if found.status == "confirmed":
        raise Conflict(
            "reservation_confirmed",
            "This reservation became a redemption: roll the redemption back instead",
            extra={
                "reason": "reservation_confirmed",
                "redemption_id": encode(Kind.REDEMPTION, found.redemption_id or 0),
            },
        )
    return found


DUE = (
    select(reservations.c.id, reservations.c.campaign_id)
    .where(reservations.c.status == "held", reservations.c.expires_at <= bindparam("now"))
    .order_by(reservations.c.campaign_id, reservations.c.id)
    .limit(bindparam("limit"))
)


async def expire_due(session: AsyncSession, *, now: datetime, limit: int = 200) -> int:
    """Expire up to ``limit`` holds whose time is up, giving back what each held,
    in the caller's transaction; how many this call ended. Safe beside another
    call, a release or a confirmation of the same rows: each ends once."""
    unit = InSession(session)
    due = (await session.execute(DUE, {"now": now, "limit": limit})).all()
    ended = 0
    for reservation_id, campaign_id in due:
        ended += await _end(unit, reservation_id, campaign_id, "expired", now=now)
    return ended


async def list_reservations(
    session: AsyncSession,
    *,
    campaign_id: int | None,
    status: str | None,
    after_id: int | None,
    limit: int,
) -> list[Reservation]:
    """Reservations in id order, of one campaign and in one status when asked."""
    query = select(Reservation).order_by(Reservation.id).limit(limit)
    if campaign_id is not None:
        query = query.where(Reservation.campaign_id == campaign_id)
    if status is not None:
        query = query.where(Reservation.status == status)
    if after_id is not None:
        query = query.where(Reservation.id > after_id)
    return list(await session.scalars(query))


async def held_count(session: AsyncSession, campaign_id: int) -> int:
    """How many reservations of a campaign hold a use now."""
    count = await session.scalar(
        select(func.count()).where(
            reservations.c.campaign_id == campaign_id, reservations.c.status == "held"
        )
    )
    return int(count or 0)
