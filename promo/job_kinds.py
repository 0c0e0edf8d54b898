"""Every kind of job and its handler, and the jobs that recur: one registry
for the app's in-process worker and for ``promo worker``.

Above every domain (it names their handlers), as the app is.
"""

from __future__ import annotations

from datetime import timedelta

from promo import retention
from promo.clock import Clock
from promo.codes import batch_jobs
from promo.db.engine import create_sessionmaker
from promo.jobs.worker import Bind, Handler, JobContext, Worker
from promo.settings import Settings

RETENTION_PURGE = "retention_purge"


def _purge(policy: retention.Retention) -> Handler:
    async def purge(ctx: JobContext) -> None:
        async with create_sessionmaker(ctx.bind)() as session, session.begin():
            await retention.purge(session, policy, now=ctx.clock())
            await ctx.finish_in(session)

    return purge


def handlers(settings: Settings) -> dict[str, Handler]:
    return {
        batch_jobs.KIND: batch_jobs.generate,
        RETENTION_PURGE: _purge(retention.Retention.of(settings)),
    }


# Kinds queued again, this long after each run ends (the first run is queued
# when a worker starts and finds none).
RECURRING: dict[str, timedelta] = {RETENTION_PURGE: timedelta(hours=1)}


def worker(settings: Settings, bind: Bind, clock: Clock) -> Worker:
    return Worker(
        bind=bind,
        clock=clock,
        handlers=handlers(settings),
        recurring=RECURRING,
        concurrency=settings.job_concurrency,
        lease_seconds=settings.job_lease_seconds,
    )
