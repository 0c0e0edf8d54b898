"""Imports are checked and loaded by a durable job (promo.jobs), one per import.

The job is queued in the transaction that stores the upload, so an import
exists if and only if its job does; whichever worker leases it runs
``run``: from the start or, after a restart, a SIGKILL or a lost host, from
the import's last committed round. A job that keeps failing fails the
import with the last error.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from promo.codes.imports_run import Interrupted, mark_failed, run_import
from promo.db.engine import create_sessionmaker
from promo.jobs import queue
from promo.jobs.worker import JobContext, Stopped

KIND = "code_import"
MAX_ATTEMPTS = 8


async def schedule(session: AsyncSession, import_id: int, *, now: datetime) -> int | None:
    """Queue the run of ``import_id`` with the transaction that stored it."""
    return await queue.enqueue(
        session,
        KIND,
        {"import_id": import_id},
        now=now,
        unique_key=f"{KIND}:{import_id}",
        max_attempts=MAX_ATTEMPTS,
    )


async def run(ctx: JobContext) -> None:
    """The job: run the import to its end, or stop between rounds when asked."""
    import_id = int(ctx.job.payload["import_id"])
    try:
        await run_import(
            ctx.bind,
            import_id,
            clock=ctx.clock,
            on_progress=ctx.on_progress,
            should_stop=ctx.should_stop,
        )
    except Interrupted:
        raise Stopped from None
    except Exception as exc:
        if ctx.job.attempt >= ctx.job.max_attempts:
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
            await mark_failed(create_sessionmaker(ctx.bind), import_id, reason, now=ctx.clock())
        raise
