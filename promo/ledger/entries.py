"""Appending to the ledger; entries are never updated or deleted."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.ledger.models import LedgerEntry

entries = cast(Table, LedgerEntry.__table__)


# Built once (see promo.checkout.offers); the columns come with the parameters.
APPEND = insert(entries).returning(entries.c.id)


async def append(
    session: AsyncSession,
    *,
    kind: str,
    now: datetime,
    currency: str,
    holding_days: int = 0,
    redemption_id: int | None = None,
    conversion_id: int | None = None,
    order_id: str | None = None,
    code: str | None = None,
    campaign_id: int | None = None,
    affiliate_id: int | None = None,
    order_amount: int = 0,
    discount: int = 0,
    commission: int = 0,
    payout_id: int | None = None,
    note: str | None = None,
    plan_id: int | None = None,
    plan_revision: int | None = None,
    rate: Decimal | None = None,
) -> int:
    """Append one entry; ``available_at`` is ``now`` plus the holding period."""
    connection = await session.connection()
    result = await connection.execute(
        APPEND,
        {
            "created_at": now,
            "kind": kind,
            "redemption_id": redemption_id,
            "conversion_id": conversion_id,
            "order_id": order_id,
            "code": code,
            "campaign_id": campaign_id,
            "affiliate_id": affiliate_id,
            "currency": currency,
            "order_amount": order_amount,
            "discount": discount,
            "commission": commission,
            "available_at": now + timedelta(days=holding_days),
            "payout_id": payout_id,
            "note": note,
            "plan_id": plan_id,
            "plan_revision": plan_revision,
            "rate": rate,
        },
    )
    return int(result.scalar_one())


async def commission_of_redemption(session: AsyncSession, redemption_id: int) -> int:
    """What a redemption's entries add up to for its affiliate, right now."""
    total = await session.scalar(
        select(func.coalesce(func.sum(entries.c.commission), 0)).where(
            entries.c.redemption_id == redemption_id
        )
    )
    return int(total or 0)
