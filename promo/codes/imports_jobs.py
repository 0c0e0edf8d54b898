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

from promo.codes.batch_jobs import run_rounds
from promo.codes.imports_run import mark_failed, run_import
from promo.jobs import queue
from promo.jobs.worker import JobContext

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
    await run_rounds(ctx, int(ctx.job.payload["import_id"]), run_import, mark_failed)
