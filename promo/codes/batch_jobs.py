"""Background generation of large batches, owned by the app.

Each run is an asyncio task of this process with its own connections (never
the request's session, which is gone once the response is sent). Tasks are
started after the creating request committed. On shutdown they stop between
two rounds (and are awaited), marking their batches failed; on startup,
batches left pending or running by a process that died are marked failed,
"interrupted by a restart": a batch is never silently half-done. Resuming was
not chosen: a failed batch keeps its codes (valid, counted in ``generated``,
listed in its CSV), and a new batch for the missing count is one request away.

An app built on one connection (tests that roll everything back) cannot run
two things at once on it, so there a run happens in full before the response
returns.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncConnection

from promo.clock import Clock
from promo.codes.generation import (
    INTERRUPTED_BY_SHUTDOWN,
    Bind,
    fail_interrupted,
    mark_failed,
    run_batch,
)
from promo.db.engine import create_sessionmaker

log = logging.getLogger("promo.codes.batch_jobs")

STOP_GRACE_SECONDS = 10.0


class BatchRunner:
    """The batch generations running in this process."""

    def __init__(self, bind: Bind, clock: Clock) -> None:
        # The engine; or, in tests, the connection the whole app works on.
        self.bind = bind
        self.clock = clock
        self._tasks: dict[asyncio.Task[None], int] = {}
        self._stopping = False

    async def start(self, batch_id: int) -> None:
        """Generate ``batch_id`` (committed, pending) in the background."""
        if isinstance(self.bind, AsyncConnection):
            await run_batch(self.bind, batch_id, clock=self.clock)
            return
        task = asyncio.create_task(self._run(batch_id), name=f"code-batch-{batch_id}")
        self._tasks[task] = batch_id
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)

    async def _run(self, batch_id: int) -> None:
        try:
            await run_batch(
                self.bind, batch_id, clock=self.clock, should_stop=lambda: self._stopping
            )
        except Exception:
            # Before the batch was claimed (e.g. no database): it stays pending
            # and the next start reports it interrupted.
            log.exception("code batch %s could not run", batch_id)

    async def wait(self) -> None:
        """Until every run started so far has ended (the CLI, tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def recover(self) -> None:
        """Startup: report batches interrupted by a previous process as failed.

        A database that cannot be reached (or is not migrated yet) must not stop
        the service from starting: readiness reports it, and the next start
        recovers.
        """
        try:
            await fail_interrupted(self.bind, now=self.clock())
        except Exception:
            log.exception("could not check for interrupted code batches")

    async def shutdown(self) -> None:
        """Stop the runs of this process and mark their batches failed.

        Runs stop between rounds (a round takes a second or two); one that does
        not within ``STOP_GRACE_SECONDS`` is cancelled.
        """
        self._stopping = True
        running = dict(self._tasks)
        if not running:
            return
        log.warning("shutting down: stopping %d code batch run(s)", len(running))
        _, late = await asyncio.wait(running, timeout=STOP_GRACE_SECONDS)
        for task in late:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        # A run stopped before it started never saw its batch: mark it here
        # (a no-op for batches the runs already marked).
        sessions = create_sessionmaker(self.bind)
        for batch_id in running.values():
            try:
                await mark_failed(sessions, batch_id, INTERRUPTED_BY_SHUTDOWN, now=self.clock())
            except Exception:
                log.exception("code batch %s: could not record the shutdown", batch_id)
