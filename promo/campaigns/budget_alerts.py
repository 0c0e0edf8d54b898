"""campaign.budget_threshold: told once each time a campaign's budget use
crosses 80% and 100% of its budget.

A recurring job (``campaign_budget_alerts``, every minute) compares each
budgeted campaign's use with the highest threshold it was told about
(``campaign_budget_alerts.level``): a use that reached a higher threshold
gets one event per threshold crossed (80 then 100 when one scan sees both),
and the level follows the use down again when refunds or a larger budget
bring it back below, so that crossing again is told again. The job is the
only writer of the levels and its lease fences each scan (one transaction,
committed only while the lease holds), so each crossing is told once.

Why a scan rather than the redemption that crosses: the checkout stays one
statement with one event, and budgets that move without a redemption (a
PATCH, a refund) are judged the same way; the price is up to a minute's delay.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

import msgspec
from sqlalchemy import Table, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.campaigns.models import BudgetAlert, Campaign
from promo.campaigns.schemas import CampaignRead
from promo.campaigns.views import campaign_read
from promo.db import dialect
from promo.db.engine import create_sessionmaker
from promo.events import outbox
from promo.events.outbox import EventType
from promo.jobs.worker import JobContext, Stopped

KIND = "campaign_budget_alerts"
EVERY = timedelta(minutes=1)
THRESHOLDS = (80, 100)

alerts = cast(Table, BudgetAlert.__table__)


class BudgetThreshold(msgspec.Struct, kw_only=True):
    """The payload of campaign.budget_threshold."""

    threshold: int
    campaign: CampaignRead


def level_of(budget_used: int, budget: int) -> int:
    """The highest threshold (percent) that ``budget_used`` has reached, else 0."""
    reached = [t for t in THRESHOLDS if budget_used * 100 >= budget * t]
    return max(reached, default=0)


async def scan(session: AsyncSession, *, now: datetime) -> int:
    """Tell every crossing since the last scan; how many events were written."""
    told = 0
    first = min(THRESHOLDS)
    rows = await session.execute(
        select(Campaign, alerts.c.level)
        .outerjoin(alerts, alerts.c.campaign_id == Campaign.id)
        .where(
            Campaign.budget.is_not(None),
            Campaign.budget > 0,
            # Only campaigns at a threshold, or told one and maybe back below it.
            or_(Campaign.budget_used * 100 >= Campaign.budget * first, alerts.c.level > 0),
        )
        .order_by(Campaign.id)
    )
    for campaign, before in rows:
        assert campaign.budget is not None  # noqa: S101 (selected so)
        level = level_of(campaign.budget_used, campaign.budget)
        before = before or 0
        if level == before:
            continue
        for threshold in THRESHOLDS:
            if before < threshold <= level:
                payload = BudgetThreshold(threshold=threshold, campaign=campaign_read(campaign))
                await outbox.emit(session, EventType.CAMPAIGN_BUDGET_THRESHOLD, payload, now=now)
                told += 1
        statement = dialect.insert(session, alerts).values(
            campaign_id=campaign.id, level=level, updated_at=now
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["campaign_id"], set_={"level": level, "updated_at": now}
            )
        )
    return told


async def run(ctx: JobContext) -> None:
    """The job: one scan, then again in a minute."""
    async with create_sessionmaker(ctx.bind)() as session, session.begin():
        now = ctx.clock()
        await scan(session, now=now)
        if not await ctx.again_in(session, now + EVERY):
            raise Stopped  # the lease was lost: nothing of this scan is kept
