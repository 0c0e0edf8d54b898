"""Every kind of job and its handler, and the jobs that recur: one registry
for the app's in-process worker and for ``promo worker``.

Above every domain (it names their handlers), as the app is.
"""

from __future__ import annotations

from datetime import timedelta

from promo import retention
from promo.campaigns import budget_alerts
from promo.checkout import expiry as reservation_expiry
from promo.clock import Clock, utc_now
from promo.codes import batch_jobs, imports_jobs
from promo.db import models as every_table  # noqa: F401 (foreign keys resolve across domains)
from promo.db.engine import create_sessionmaker
from promo.jobs.worker import Bind, Handler, JobContext, Worker
from promo.ledger import availability, bonuses
from promo.referrals import rewards as referral_rewards
from promo.reports import rollup
from promo.settings import Settings
from promo.webhooks import delivery, fanout
from promo.webhooks.service import DELIVERY_KIND

RETENTION_PURGE = "retention_purge"
REPORT_ROLLUP = "report_rollup"


def _purge(policy: retention.Retention) -> Handler:
    async def purge(ctx: JobContext) -> None:
        async with create_sessionmaker(ctx.bind)() as session, session.begin():
            await retention.purge(session, policy, now=ctx.clock())
            await ctx.finish_in(session)

    return purge


async def _roll_up(ctx: JobContext) -> None:
    """Roll the performance reports' hours up to ``SETTLE`` ago, a step at a time
    (each committed), until nothing is left or the worker stops."""
    sessions = create_sessionmaker(ctx.bind)
    while not ctx.should_stop():
        async with sessions() as session, session.begin():
            if await rollup.catch_up(session, now=ctx.clock()) is None:
                return


def handlers(settings: Settings, *, wall: Clock = utc_now) -> dict[str, Handler]:
    return {
        batch_jobs.KIND: batch_jobs.generate,
        imports_jobs.KIND: imports_jobs.run,
        RETENTION_PURGE: _purge(retention.Retention.of(settings)),
        fanout.KIND: fanout.run,
        DELIVERY_KIND: delivery.handler(settings, wall=wall),
        availability.KIND: availability.run,
        budget_alerts.KIND: budget_alerts.run,
        REPORT_ROLLUP: _roll_up,
        bonuses.KIND: bonuses.run,
        referral_rewards.KIND: referral_rewards.run,
        reservation_expiry.KIND: reservation_expiry.run,
    }


# Kinds queued again, this long after each run ends (the first run is queued
# when a worker starts and finds none). The webhooks' fan-out and the scans
# that emit events queue themselves again as they end (JobContext.again_in):
# listed here for their first run, and for a run after one failed for good.
RECURRING: dict[str, timedelta] = {
    RETENTION_PURGE: timedelta(hours=1),
    REPORT_ROLLUP: timedelta(minutes=5),
    fanout.KIND: fanout.EVERY,
    availability.KIND: availability.EVERY,
    budget_alerts.KIND: budget_alerts.EVERY,
    bonuses.KIND: bonuses.EVERY,
    referral_rewards.KIND: referral_rewards.EVERY,
    reservation_expiry.KIND: reservation_expiry.EVERY,
}


def worker(settings: Settings, bind: Bind, clock: Clock, *, wall: Clock = utc_now) -> Worker:
    """``wall``: the instant webhooks are signed at (the host's, even when a test
    moves ``clock``)."""
    return Worker(
        bind=bind,
        clock=clock,
        handlers=handlers(settings, wall=wall),
        recurring=RECURRING,
        concurrency=settings.job_concurrency,
        lease_seconds=settings.job_lease_seconds,
    )
