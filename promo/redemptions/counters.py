"""Consuming and returning usage: conditional UPDATEs, the database is the judge.

Each counter is checked and consumed in one statement (``used = used + 1
WHERE used < max``); zero rows means the limit was reached, and the caller's
transaction is rolled back so nothing else it wrote survives. Rows are
always touched in one fixed order (campaign, then code, then customer) so
that concurrent redemptions and rollbacks wait for each other instead of
deadlocking. No Python locks: they do not cross processes.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from promo.campaigns.eligibility import Reason
from promo.campaigns.models import Campaign
from promo.codes.models import Code
from promo.db import dialect
from promo.redemptions.models import CustomerUsage

campaigns = cast(Table, Campaign.__table__)
codes = cast(Table, Code.__table__)
usage = cast(Table, CustomerUsage.__table__)


async def consume_campaign(session: AsyncSession, campaign_id: int, discount: int) -> Reason | None:
    """Take one redemption and ``discount`` of budget from the campaign, or say why not."""
    result = await session.execute(
        update(campaigns)
        .where(
            campaigns.c.id == campaign_id,
            campaigns.c.status == "active",
            or_(
                campaigns.c.max_redemptions.is_(None),
                campaigns.c.redemptions_used < campaigns.c.max_redemptions,
            ),
            or_(
                campaigns.c.budget.is_(None),
                campaigns.c.budget_used + discount <= campaigns.c.budget,
            ),
        )
        .values(
            redemptions_used=campaigns.c.redemptions_used + 1,
            budget_used=campaigns.c.budget_used + discount,
        )
        .returning(campaigns.c.id)
    )
    if result.first() is not None:
        return None
    # One follow-up read decides which limit it was (rows were just locked or
    # changed by a concurrent redemption).
    row = (
        await session.execute(
            select(
                campaigns.c.status,
                campaigns.c.max_redemptions,
                campaigns.c.redemptions_used,
            ).where(campaigns.c.id == campaign_id)
        )
    ).one()
    if row.status != "active":
        return Reason.CAMPAIGN_INACTIVE
    if row.max_redemptions is not None and row.redemptions_used >= row.max_redemptions:
        return Reason.CAMPAIGN_EXHAUSTED
    return Reason.BUDGET_EXHAUSTED


async def consume_code(session: AsyncSession, code_id: int) -> Reason | None:
    result = await session.execute(
        update(codes)
        .where(
            codes.c.id == code_id,
            codes.c.active.is_(True),
            codes.c.live,
            or_(codes.c.max_redemptions.is_(None), codes.c.used < codes.c.max_redemptions),
        )
        .values(used=codes.c.used + 1)
        .returning(codes.c.id)
    )
    if result.first() is not None:
        return None
    active = await session.scalar(
        select(and_(codes.c.active, codes.c.live)).where(codes.c.id == code_id)
    )
    return Reason.CODE_EXHAUSTED if active else Reason.CODE_DISABLED


async def consume_customer(
    session: AsyncSession, campaign_id: int, customer_key: str, limit: int | None
) -> Reason | None:
    """Count one redemption for the customer on the campaign, within ``limit``."""
    statement = (
        dialect.insert(session, usage)
        .values(campaign_id=campaign_id, customer_key=customer_key, used=1)
        .on_conflict_do_update(
            index_elements=[usage.c.campaign_id, usage.c.customer_key],
            set_={"used": usage.c.used + 1},
            where=(usage.c.used < limit) if limit is not None else None,
        )
        .returning(usage.c.used)
    )
    result = await session.execute(statement)
    return None if result.first() is not None else Reason.CUSTOMER_LIMIT_REACHED


async def lock_campaign(session: AsyncSession, campaign_id: int) -> None:
    """Take the campaign row first, as redemptions do, before touching anything else."""
    query = select(campaigns.c.id).where(campaigns.c.id == campaign_id)
    if dialect.is_postgres(session):
        query = query.with_for_update()
    await session.execute(query)


async def release(
    session: AsyncSession,
    *,
    campaign_id: int,
    code_id: int,
    customer_key: str | None,
    budget: int,
    redemption: bool,
) -> None:
    """Give back ``budget`` and, for a full rollback (``redemption``), one use of
    every counter. Same order as consumption: campaign, code, customer."""
    await session.execute(
        update(campaigns)
        .where(campaigns.c.id == campaign_id)
        .values(
            redemptions_used=campaigns.c.redemptions_used - (1 if redemption else 0),
            budget_used=campaigns.c.budget_used - budget,
        )
    )
    if not redemption:
        return
    await session.execute(update(codes).where(codes.c.id == code_id).values(used=codes.c.used - 1))
    if customer_key is not None:
        await session.execute(
            update(usage)
            .where(usage.c.campaign_id == campaign_id, usage.c.customer_key == customer_key)
            .values(used=usage.c.used - 1)
        )
