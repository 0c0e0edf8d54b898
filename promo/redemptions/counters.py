"""Consuming and returning usage: conditional UPDATEs, the database is the judge.

Each counter is checked and consumed in one statement (``used = used + 1
WHERE used < max``); zero rows means the limit was reached, and the caller's
transaction is rolled back so nothing else it wrote survives. Rows are
always touched in one fixed order (campaign, then code, then customer) so
that concurrent redemptions and rollbacks wait for each other instead of
deadlocking. No Python locks: they do not cross processes.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import BigInteger, Integer, Table, and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from promo.campaigns.eligibility import Reason
from promo.campaigns.models import Campaign
from promo.codes.models import Code
from promo.db import dialect
from promo.db.autocommit import Autocommit, InSession
from promo.redemptions.models import CustomerUsage

campaigns = cast(Table, Campaign.__table__)
codes = cast(Table, Code.__table__)
usage = cast(Table, CustomerUsage.__table__)


# The statements of the redemption path are built once, with bound parameters
# (see promo.redemptions.queries).
_DISCOUNT = bindparam("discount", type_=BigInteger)
TAKE_FROM_CAMPAIGN = (
    update(campaigns)
    .where(
        campaigns.c.id == bindparam("campaign_id"),
        campaigns.c.status == "active",
        or_(
            campaigns.c.max_redemptions.is_(None),
            campaigns.c.redemptions_used < campaigns.c.max_redemptions,
        ),
        or_(
            campaigns.c.budget.is_(None),
            campaigns.c.budget_used + _DISCOUNT <= campaigns.c.budget,
        ),
    )
    .values(
        redemptions_used=campaigns.c.redemptions_used + 1,
        budget_used=campaigns.c.budget_used + _DISCOUNT,
    )
    .returning(campaigns.c.id)
)
CAMPAIGN_STATE = select(
    campaigns.c.status, campaigns.c.max_redemptions, campaigns.c.redemptions_used
).where(campaigns.c.id == bindparam("campaign_id"))
TAKE_FROM_CODE = (
    update(codes)
    .where(
        codes.c.id == bindparam("code_id"),
        codes.c.active.is_(True),
        codes.c.live,
        or_(codes.c.max_redemptions.is_(None), codes.c.used < codes.c.max_redemptions),
    )
    .values(used=codes.c.used + 1)
    .returning(codes.c.id)
)
CODE_ACTIVE = select(and_(codes.c.active, codes.c.live).label("active")).where(
    codes.c.id == bindparam("code_id")
)


def _count_customer(insert: Any) -> Any:
    limit = bindparam("limit", type_=Integer)
    return (
        insert(usage)
        .values(campaign_id=bindparam("campaign_id"), customer_key=bindparam("customer_key"))
        .values(used=1)
        .on_conflict_do_update(
            index_elements=[usage.c.campaign_id, usage.c.customer_key],
            set_={"used": usage.c.used + 1},
            where=or_(limit.is_(None), usage.c.used < limit),
        )
        .returning(usage.c.used)
    )


COUNT_CUSTOMER = dialect.prebuilt(_count_customer)


async def consume_campaign(session: AsyncSession, campaign_id: int, discount: int) -> Reason | None:
    """Take one redemption and ``discount`` of budget from the campaign, or say why not."""
    connection = await session.connection()
    result = await connection.execute(
        TAKE_FROM_CAMPAIGN, {"campaign_id": campaign_id, "discount": discount}
    )
    if result.first() is not None:
        return None
    return await campaign_refusal(InSession(session), campaign_id)


async def campaign_refusal(unit: Autocommit, campaign_id: int) -> Reason:
    """Why the campaign gave nothing: one follow-up read decides which limit it
    was (rows were just locked or changed by a concurrent redemption)."""
    row = await unit.first(CAMPAIGN_STATE, {"campaign_id": campaign_id})
    assert row is not None  # noqa: S101 (campaigns are never deleted)
    if row["status"] != "active":
        return Reason.CAMPAIGN_INACTIVE
    if row["max_redemptions"] is not None and row["redemptions_used"] >= row["max_redemptions"]:
        return Reason.CAMPAIGN_EXHAUSTED
    return Reason.BUDGET_EXHAUSTED


async def consume_code(session: AsyncSession, code_id: int) -> Reason | None:
    connection = await session.connection()
    result = await connection.execute(TAKE_FROM_CODE, {"code_id": code_id})
    if result.first() is not None:
        return None
    return await code_refusal(InSession(session), code_id)


async def code_refusal(unit: Autocommit, code_id: int) -> Reason:
    """Why the code gave nothing: disabled meanwhile, or used up."""
    row = await unit.first(CODE_ACTIVE, {"code_id": code_id})
    active = row is not None and row["active"]
    return Reason.CODE_EXHAUSTED if active else Reason.CODE_DISABLED


async def consume_customer(
    session: AsyncSession, campaign_id: int, customer_key: str, limit: int | None
) -> Reason | None:
    """Count one redemption for the customer on the campaign, within ``limit``."""
    connection = await session.connection()
    statement = dialect.for_dialect(session, COUNT_CUSTOMER)
    params = {"campaign_id": campaign_id, "customer_key": customer_key, "limit": limit}
    result = await connection.execute(statement, params)
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
