"""reservation_expiry: expired reservations give back what they held, within seconds.

One job (unique, leased: two workers never run it at once) comes back every
``EVERY``: it ends the holds whose time is up, a batch per transaction
(promo.checkout.reservations.expire_due), until none is left. Each hold is
ended by a conditional UPDATE, so even two runs that overlap (a lease that
ran out under a stalled worker) give each back once.
"""

from __future__ import annotations

from datetime import timedelta

from promo.checkout.reservations import expire_due
from promo.db.engine import create_sessionmaker
from promo.jobs.worker import JobContext, Stopped

KIND = "reservation_expiry"
EVERY = timedelta(seconds=2)
BATCH = 200


async def run(ctx: JobContext) -> None:
    """The job: expire what is due, a batch at a time, then again in ``EVERY``."""
    sessions = create_sessionmaker(ctx.bind)
    while not ctx.should_stop():
        async with sessions() as session, session.begin():
            ended = await expire_due(session, now=ctx.clock(), limit=BATCH)
            if ended < BATCH:
                if not await ctx.again_in(session, ctx.clock() + EVERY):
                    raise Stopped
                return
    raise Stopped
