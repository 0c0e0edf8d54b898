"""The fan-out: each committed event becomes one delivery per subscription that
wants it.

One job (``webhook_fanout``, unique) comes back every second: it claims the
events not yet dispatched (``dispatched_at`` set by an UPDATE that only an
undispatched row passes, so two runs that overlap never claim the same
event), and queues the deliveries of each, in the same transaction. An event
goes to the subscriptions active when it is dispatched that existed when it
happened (a subscription made later gets only later events, and earlier ones
by redelivery).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from promo.db import dialect
from promo.db.engine import create_sessionmaker
from promo.events.outbox import events
from promo.jobs.worker import JobContext, Stopped
from promo.webhooks.models import Subscription
from promo.webhooks.service import queue_deliveries

KIND = "webhook_fanout"
EVERY = timedelta(seconds=1)
BATCH = 500


async def dispatch(session: AsyncSession, *, now: datetime) -> tuple[int, int]:
    """Claim up to ``BATCH`` undispatched events and queue their deliveries;
    (events claimed, deliveries queued)."""
    pick = (
        select(events.c.id)
        .where(events.c.dispatched_at.is_(None))
        .order_by(events.c.id)
        .limit(BATCH)
    )
    if dialect.is_postgres(session):
        pick = pick.with_for_update(skip_locked=True)
    claimed = (
        await session.execute(
            update(events)
            .where(events.c.id.in_(pick.scalar_subquery()), events.c.dispatched_at.is_(None))
            .values(dispatched_at=now)
            .returning(events.c.id, events.c.type, events.c.created_at)
        )
    ).all()
    if not claimed:
        return 0, 0
    active = list(await session.scalars(select(Subscription).where(Subscription.active.is_(True))))
    pairs = [
        (event.id, sub.id)
        for event in sorted(claimed, key=lambda e: e.id)
        for sub in active
        if event.type in sub.events and sub.created_at <= event.created_at
    ]
    return len(claimed), await queue_deliveries(session, pairs, manual=False, now=now)


async def run(ctx: JobContext) -> None:
    """The job: dispatch until nothing is left, then again in a second."""
    sessions = create_sessionmaker(ctx.bind)
    while not ctx.should_stop():
        async with sessions() as session, session.begin():
            claimed, _ = await dispatch(session, now=ctx.clock())
            if claimed < BATCH:
                if not await ctx.again_in(session, ctx.clock() + EVERY):
                    raise Stopped
                return
    raise Stopped
