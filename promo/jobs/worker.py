"""A worker: leases due jobs and runs each with the handler of its kind.

``promo worker`` runs one per process (several per host, several hosts on
PostgreSQL); on SQLite ``promo serve`` runs one in-process. A worker runs up
to ``concurrency`` jobs at once, renews each job's lease every third of its
length while the handler works, and tells the handler to stop
(``JobContext.should_stop``) when the lease is lost or the worker shuts
down. On shutdown (SIGTERM) it waits for its jobs to reach a stopping
point, then gives back what did not finish (``queue.release``), so another
worker resumes it at once; a worker killed outright leaves its leases to
run out, and the jobs are taken over then.

A handler returns normally when the job is done (``finish`` is recorded in
its own transaction; a handler whose last effect must commit together with
"done" calls ``ctx.finish_in(session)`` itself, and one that comes back later
by itself, a delivery's next attempt or a scan that recurs, calls
``ctx.again_in(session, run_at)``), or raises: ``Stopped`` gives
the job back, ``Fatal`` fails it at once, any other exception is a failed
attempt retried with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from promo.clock import Clock
from promo.db.engine import create_sessionmaker
from promo.jobs import queue
from promo.jobs.queue import Leased

log = logging.getLogger("promo.jobs")

RUNS = Counter("promo_jobs", "Jobs run by this process, by kind and outcome", ["kind", "outcome"])

Bind = AsyncEngine | AsyncConnection


class Stopped(Exception):
    """The handler stopped early at a safe point (shutdown, lease lost): run it again."""


class Fatal(Exception):
    """The job cannot succeed however often it is retried: fail it now."""


@dataclass
class JobContext:
    """What a handler gets: its job, the database, the clock, and when to stop."""

    job: Leased
    bind: Bind
    clock: Clock
    # Told how far the job got (the CLI's progress bar); None when nobody asks.
    on_progress: Callable[[int], None] | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _finished_in_handler: bool = False

    _rescheduled: bool = False

    def should_stop(self) -> bool:
        return self._stop.is_set()

    async def finish_in(self, session: AsyncSession) -> bool:
        """Mark the job done inside ``session``'s transaction (with the last effect)."""
        self._finished_in_handler = await queue.finish(session, self.job, now=self.clock())
        return self._finished_in_handler

    async def again_in(
        self, session: AsyncSession, run_at: datetime, payload: dict[str, Any] | None = None
    ) -> bool:
        """Queue this job again for ``run_at`` (with a new ``payload``, if given)
        inside ``session``'s transaction, with what this run did. False when the
        lease was lost: roll back, another worker has the job."""
        held = await queue.reschedule(
            session, self.job, now=self.clock(), run_at=run_at, payload=payload
        )
        self._finished_in_handler = self._rescheduled = held
        return held


Handler = Callable[[JobContext], Awaitable[None]]


def worker_name() -> str:
    """Unique per process: host, pid and a random part (a pid is reused)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Worker:
    bind: Bind
    clock: Clock
    handlers: Mapping[str, Handler]
    # Kinds queued again this long after each run ends.
    recurring: Mapping[str, timedelta] = field(default_factory=dict)
    concurrency: int = 4
    lease_seconds: float = 30.0
    poll_seconds: float = 1.0
    name: str = field(default_factory=worker_name)
    _running: dict[int, tuple[asyncio.Task[None], JobContext]] = field(default_factory=dict)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _stopping: bool = False
    _loop: asyncio.Task[None] | None = None

    @property
    def lease_for(self) -> timedelta:
        return timedelta(seconds=self.lease_seconds)

    def wake(self) -> None:
        """A job was queued in this process: look now rather than at the next poll."""
        self._wake.set()

    async def run_due(self) -> int:
        """Lease and run due jobs until none is left; how many ran. (Tests, the
        in-process worker of an app on one connection.)"""
        count = 0
        while (job := await self._lease()) is not None:
            await self._run(job)
            count += 1
        return count

    async def _lease(self) -> Leased | None:
        sessions = create_sessionmaker(self.bind)
        async with sessions() as session, session.begin():
            return await queue.lease(
                session,
                self.name,
                now=self.clock(),
                lease_for=self.lease_for,
                kinds=list(self.handlers),
            )

    async def _write(self, work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
        async with create_sessionmaker(self.bind)() as session, session.begin():
            return await work(session)

    async def run_leased(
        self, job: Leased, on_progress: Callable[[int], None] | None = None
    ) -> None:
        """Run a job this process leased itself (the CLI runs the batch it created)."""
        await self._run(job, on_progress)

    async def _run(self, job: Leased, on_progress: Callable[[int], None] | None = None) -> None:
        ctx = JobContext(job=job, bind=self.bind, clock=self.clock, on_progress=on_progress)
        renewing = asyncio.create_task(self._renew(ctx), name=f"job-{job.id}-lease")
        self._running[job.id] = (asyncio.current_task(), ctx)  # type: ignore[assignment]
        outcome = "done"
        try:
            await self.handlers[job.kind](ctx)
            if not ctx._finished_in_handler:
                await self._write(lambda s: queue.finish(s, job, now=self.clock()))

        except Stopped:
            outcome = "released"
            await self._write(lambda s: queue.release(s, job, now=self.clock()))
        except asyncio.CancelledError:
            outcome = "released"
            with contextlib.suppress(Exception):
                await self._write(lambda s: queue.release(s, job, now=self.clock()))
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            fatal = isinstance(exc, Fatal)
            if not fatal:
                log.exception("job %s (%s) attempt %s failed", job.id, job.kind, job.attempt)
            final = msgspec.structs.replace(job, attempt=job.max_attempts) if fatal else job
            status = await self._write(lambda s: queue.fail(s, final, error, now=self.clock()))
            outcome = status or "lost"
        finally:
            renewing.cancel()
            self._running.pop(job.id, None)
            if ctx._rescheduled and outcome == "done":
                outcome = "rescheduled"
            RUNS.labels(job.kind, outcome).inc()
        if job.kind in self.recurring and outcome in ("done", "failed"):
            try:
                await self._write(lambda s: self._queue_next(s, job.kind))
            except Exception:
                log.exception("jobs: could not queue the next %s", job.kind)

    async def _renew(self, ctx: JobContext) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                held = await self._write(
                    lambda s: queue.renew(s, ctx.job, now=self.clock(), lease_for=self.lease_for)
                )
            except Exception:
                log.exception("job %s: could not renew its lease", ctx.job.id)
                continue
            if not held:
                log.warning("job %s: lease lost; stopping it", ctx.job.id)
                ctx._stop.set()
                return

    async def _queue_next(self, session: AsyncSession, kind: str) -> None:
        now = self.clock()
        await queue.enqueue(
            session, kind, now=now, run_at=now + self.recurring[kind], unique_key=kind
        )

    async def queue_recurring(self) -> None:
        """Queue each recurring kind that has no run queued (a no-op when one is)."""
        for kind in self.recurring:

            async def first_run(session: AsyncSession, kind: str = kind) -> None:
                await queue.enqueue(session, kind, now=self.clock(), unique_key=kind)

            await self._write(first_run)

    async def serve(self) -> None:
        """Poll and run jobs until ``stop``: the loop of ``promo worker``."""
        try:
            await self.queue_recurring()
        except Exception:
            log.exception("jobs: could not queue the recurring jobs")
        slots = asyncio.Semaphore(self.concurrency)
        tasks: set[asyncio.Task[None]] = set()
        while not self._stopping:
            await slots.acquire()
            if self._stopping:
                slots.release()
                break
            try:
                job = await self._lease()
            except Exception:
                log.exception("jobs: could not lease (the database may be away)")
                job = None
            if job is None:
                slots.release()
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
                continue

            async def run(leased: Leased = job) -> None:
                try:
                    await self._run(leased)
                finally:
                    slots.release()

            task = asyncio.create_task(run(), name=f"job-{job.id}")
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def start(self) -> None:
        """Run ``serve`` in the background (the in-process worker of ``promo serve``)."""
        self._loop = asyncio.create_task(self.serve(), name="jobs-worker")

    async def stopped(self) -> None:
        """Until the loop started by ``start`` has ended (after ``stop``)."""
        if self._loop is not None:
            await asyncio.gather(self._loop, return_exceptions=True)

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Ask running jobs to stop, wait up to ``grace_seconds``, then cancel
        (a cancelled job is given back)."""
        self._stopping = True
        self._wake.set()
        for _, ctx in list(self._running.values()):
            ctx._stop.set()
        loop = self._loop
        if loop is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(loop), timeout=grace_seconds)
        except TimeoutError:
            for task, _ in list(self._running.values()):
                task.cancel()
            await asyncio.gather(loop, return_exceptions=True)
