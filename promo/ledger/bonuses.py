"""Volume bonuses: settled once per affiliate, plan and period, by a recurring job
(the plans' pricing rules, the ledger's entry).

A period (a calendar month in the plan's timezone, promo.plans.models) is
settled once it has ended and the affiliate's holding period has passed since
(so the rollbacks of its sales have had time to take them out of its
figures). The bonus is judged on the terms of the plan's revision in force at
the period's end (``bonus_due``) and, when due, is one ``bonus`` ledger entry,
available at once. Exactly once, whatever the retries, restarts and
concurrent workers: the period is marked settled by a conditional UPDATE
(``bonus_settled_at IS NULL``) in the transaction that writes the entry, so a
second settler finds nothing to mark and writes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from promo.affiliates.models import Affiliate
from promo.db.engine import create_sessionmaker
from promo.jobs.worker import JobContext, Stopped
from promo.ledger import entries as ledger
from promo.plans.models import CommissionPeriod, CommissionPlan, CommissionPlanRevision
from promo.plans.pricing import Standing, bonus_due
from promo.plans.service import pricing_plan

KIND = "commission_bonuses"
EVERY = timedelta(minutes=10)
PAGE = 200

periods = cast(Table, CommissionPeriod.__table__)
# The order periods are settled in (and paged by).
KEY = (
    CommissionPeriod.ends_at,
    CommissionPeriod.affiliate_id,
    CommissionPeriod.plan_id,
    CommissionPeriod.period,
)


async def _terms_at(
    session: AsyncSession, plan: CommissionPlan, instant: datetime
) -> CommissionPlanRevision | None:
    """The plan's revision in force at ``instant`` (the last one made before it)."""
    query = (
        select(CommissionPlanRevision)
        .where(
            CommissionPlanRevision.plan_id == plan.id,
            CommissionPlanRevision.created_at < instant,
        )
        .order_by(CommissionPlanRevision.revision.desc())
        .limit(1)
    )
    return (await session.scalars(query)).first()


async def settle(session: AsyncSession, period: CommissionPeriod, *, now: datetime) -> int | None:
    """Settle one period: the bonus entry's id, or None (not due, or settled already)."""
    marked = await session.execute(
        update(periods)
        .where(
            periods.c.affiliate_id == period.affiliate_id,
            periods.c.plan_id == period.plan_id,
            periods.c.period == period.period,
            periods.c.bonus_settled_at.is_(None),
        )
        .values(bonus_settled_at=now)
        .returning(periods.c.sales, periods.c.revenue)
    )
    figures = marked.first()
    if figures is None:
        return None  # another settler was first
    plan = await session.get(CommissionPlan, period.plan_id)
    assert plan is not None  # noqa: S101 (plans are never deleted)
    revision = await _terms_at(session, plan, period.ends_at)
    if revision is None:
        return None
    terms = pricing_plan(plan.id, revision.revision, revision.timezone, revision.terms)
    amount = bonus_due(terms, Standing(sales=figures.sales, revenue=figures.revenue))
    if amount == 0:
        return None
    basis = terms.bonus.basis if terms.bonus else "sales"
    reached = figures.sales if basis == "sales" else figures.revenue
    return await ledger.append(
        session,
        kind="bonus",
        now=now,
        currency=plan.currency,
        affiliate_id=period.affiliate_id,
        commission=amount,
        note=f"{plan.name}: bonus for {period.period} ({basis} {reached})",
        plan_id=plan.id,
        plan_revision=revision.revision,
    )


async def settle_due(session: AsyncSession, *, now: datetime) -> int:
    """Settle every ended period whose affiliate's holding period has passed
    since its end; how many bonuses were credited."""
    credited = 0
    after: tuple[datetime, int, int, str] | None = None
    while True:
        query = (
            select(CommissionPeriod, Affiliate.holding_days)
            .join(Affiliate, Affiliate.id == CommissionPeriod.affiliate_id)
            .where(CommissionPeriod.bonus_settled_at.is_(None), CommissionPeriod.ends_at <= now)
            .order_by(*KEY)
            .limit(PAGE)
        )
        if after is not None:
            query = query.where(tuple_(*KEY) > tuple_(*after))
        rows = (await session.execute(query)).all()
        for period, holding_days in rows:
            if period.ends_at + timedelta(days=holding_days) <= now:
                credited += await settle(session, period, now=now) is not None
        if len(rows) < PAGE:
            return credited
        last = rows[-1][0]
        after = (last.ends_at, last.affiliate_id, last.plan_id, last.period)


async def run(ctx: JobContext) -> None:
    """The job: settle what is due, then again in ten minutes."""
    now = ctx.clock()
    async with create_sessionmaker(ctx.bind)() as session, session.begin():
        await settle_due(session, now=now)
        if not await ctx.again_in(session, now + EVERY):
            raise Stopped  # the lease was lost: another worker settles instead
