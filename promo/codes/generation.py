"""Background (and CLI) runs of a batch: committed rounds, progress, stop, recovery.

A run claims a pending batch (``running``), then repeats rounds
(``promo.codes.rounds``) until ``generated == count``. Each round is its own
committed transaction that also adds what it inserted to the batch's
``generated``, so progress is visible and a crash loses at most one round:
``generated`` always equals the batch's stored codes.

On PostgreSQL two rounds run at once on two connections (the database's work
dominates and this machine has two cores); their ``generated`` updates are
serialised by the batch row. Each round holds the campaign row ``FOR KEY
SHARE`` (``promo.codes.rounds.hold_campaign``: archiving waits for it, later
rounds see the archive and stop, and redemptions, which only update the
campaign's counters, never wait) and adds to ``generated`` only while the
batch is still ``running``: a batch marked failed meanwhile gets no more
codes, as the round rolls back.

A run also holds a PostgreSQL advisory lock on its batch, which tells a
restarting process that the batch is alive elsewhere (another worker, the
CLI) and must not be reported interrupted. It is a transaction-level lock
(``pg_try_advisory_xact_lock``) in a transaction kept open on a connection of
its own for the whole run: a transaction-pooling PgBouncer keeps a server
connection for a transaction, never for a session, so a session-level lock
would stay behind on a server connection that another client then gets, and
its unlock would go elsewhere. The open transaction writes nothing and holds
no snapshot between statements (READ COMMITTED), so it holds back no vacuum.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from promo.clock import Clock
from promo.codes.batches import UNFINISHED, batch_pattern
from promo.codes.models import CodeBatch
from promo.codes.patterns import Pattern
from promo.codes.rounds import (
    MAX_STALLED_ROUNDS,
    chunk_size,
    hold_campaign,
    insert_round,
    stalled_message,
)
from promo.db.engine import create_sessionmaker
from promo.db.metadata import UtcDateTime

log = logging.getLogger("promo.codes.generation")

# Rounds at once on PostgreSQL (each on its own connection).
STREAMS_POSTGRES = 2
# Advisory lock namespace (PostgreSQL) of "this batch is being generated".
RUN_LOCK_NAMESPACE = 0x0C0DE1
INTERRUPTED_BY_RESTART = "interrupted by a restart"
INTERRUPTED_BY_SHUTDOWN = "interrupted by a shutdown"

Bind = AsyncEngine | AsyncConnection
Sessions = Callable[[], AsyncSession]
Progress = Callable[[int], None]


class GenerationStopped(Exception):
    """The batch cannot be completed; the message is stored as the batch's error."""


@dataclass(frozen=True)
class RunHooks:
    """How a run tells time, reports progress and learns that it should stop."""

    clock: Clock
    on_progress: Progress | None = None
    # Checked between rounds: a stop never cuts a statement in half.
    should_stop: Callable[[], bool] | None = None


@asynccontextmanager
async def held_connection(bind: Bind) -> AsyncIterator[AsyncConnection]:
    """A connection for a while; a test's own connection is used as given."""
    if isinstance(bind, AsyncConnection):
        yield bind
        return
    async with bind.connect() as connection:
        yield connection


async def _try_lock(connection: AsyncConnection, batch_id: int) -> bool:
    """Take the run lock of ``batch_id`` until the connection's transaction ends."""
    if connection.dialect.name != "postgresql":
        return True
    locked = await connection.scalar(
        text("SELECT pg_try_advisory_xact_lock(:namespace, :batch)"),
        {"namespace": RUN_LOCK_NAMESPACE, "batch": batch_id},
    )
    return bool(locked)


@asynccontextmanager
async def _run_lock(bind: Bind, batch_id: int) -> AsyncIterator[bool]:
    """Whether this process may run the batch; held (PostgreSQL) until the block ends.

    On a connection of its own the lock's transaction ends with the block; a
    test's connection keeps it until the test's transaction ends.
    """
    if isinstance(bind, AsyncConnection):
        yield await _try_lock(bind, batch_id)
        return
    if bind.dialect.name != "postgresql":
        # SQLite serves one process, and an open transaction there would hold
        # its write lock (BEGIN IMMEDIATE) against the run's own rounds.
        yield True
        return
    async with bind.connect() as connection, connection.begin():
        yield await _try_lock(connection, batch_id)


async def run_batch(
    bind: Bind,
    batch_id: int,
    *,
    clock: Clock,
    on_progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> CodeBatch | None:
    """Generate a pending batch to the end; the batch as it ended (done or failed).

    None when the batch was not pending (already run, or marked interrupted)
    or is being generated by another process.
    """
    hooks = RunHooks(clock, on_progress, should_stop)
    async with _run_lock(bind, batch_id) as locked:
        if not locked:
            return None
        return await _generate(bind, batch_id, hooks)


async def _generate(bind: Bind, batch_id: int, hooks: RunHooks) -> CodeBatch | None:
    sessions = create_sessionmaker(bind)
    async with sessions() as session, session.begin():
        campaign_id = await session.scalar(
            update(CodeBatch)
            .where(CodeBatch.id == batch_id, CodeBatch.status == "pending")
            .values(status="running")
            .returning(CodeBatch.campaign_id)
        )
    if campaign_id is None:
        return None
    # One connection (a test's) can serve one round at a time.
    parallel = bind.dialect.name == "postgresql" and isinstance(bind, AsyncEngine)
    streams = STREAMS_POSTGRES if parallel else 1
    try:
        return await _rounds(sessions, batch_id, campaign_id, hooks, streams)
    except GenerationStopped as exc:
        return await mark_failed(sessions, batch_id, str(exc), now=hooks.clock())
    except Exception as exc:
        log.exception("code batch %s failed", batch_id)
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
        return await mark_failed(sessions, batch_id, reason, now=hooks.clock())
    except BaseException:
        # Cancelled mid-statement (a hard stop, Ctrl-C): try to say so; if
        # that fails too, the next start reports the batch interrupted.
        try:
            await mark_failed(sessions, batch_id, INTERRUPTED_BY_SHUTDOWN, now=hooks.clock())
        except Exception:
            log.exception("code batch %s: could not record the interruption", batch_id)
        raise


def shares(remaining: int, chunk: int, streams: int) -> list[int]:
    """How many codes each concurrent round draws: all at most ``chunk``, summing
    to at most ``remaining``, so that no set of rounds can overshoot the count."""
    per = min(chunk, -(-remaining // streams))
    parts: list[int] = []
    while remaining > 0 and len(parts) < streams:
        parts.append(min(per, remaining))
        remaining -= parts[-1]
    return parts


async def _rounds(
    sessions: Sessions, batch_id: int, campaign_id: int, hooks: RunHooks, streams: int
) -> CodeBatch:
    pattern: Pattern | None = None
    stalled = 0
    while True:
        async with sessions() as session:
            batch = await session.get(CodeBatch, batch_id)
            dialect = session.get_bind().dialect.name
        if batch is not None and batch.status == "done":
            return batch
        if batch is None or batch.status != "running":
            raise GenerationStopped("the batch was stopped by another process")
        if hooks.should_stop is not None and hooks.should_stop():
            raise GenerationStopped(INTERRUPTED_BY_SHUTDOWN)
        pattern = pattern or batch_pattern(batch)
        parts = shares(batch.count - batch.generated, chunk_size(dialect), streams)
        outcomes = await asyncio.gather(
            *(_round(sessions, batch_id, campaign_id, pattern, need, hooks) for need in parts),
            return_exceptions=True,
        )
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        if failures:
            raise failures[0]
        done = [o for o in outcomes if not isinstance(o, BaseException)]
        stalled = 0 if any(inserted for inserted, _ in done) else stalled + 1
        if stalled >= MAX_STALLED_ROUNDS:
            raise GenerationStopped(stalled_message(batch))
        if hooks.on_progress is not None:
            hooks.on_progress(max(generated for _, generated in done))


async def _round(
    sessions: Sessions,
    batch_id: int,
    campaign_id: int,
    pattern: Pattern,
    need: int,
    hooks: RunHooks,
) -> tuple[int, int]:
    """One committed round; (codes inserted, the batch's ``generated`` after it)."""
    async with sessions() as session, session.begin():
        # Lock order: campaign, then batch (then codes), as everywhere.
        if not await hold_campaign(session, campaign_id):
            raise GenerationStopped("the campaign was archived while generating")
        batch = await session.get(CodeBatch, batch_id)
        if batch is None or batch.status != "running":
            raise GenerationStopped("the batch was stopped by another process")
        inserted = await insert_round(session, batch, pattern, need)
        total = CodeBatch.generated + inserted
        finished = total == CodeBatch.count
        after = (
            await session.execute(
                update(CodeBatch)
                .where(CodeBatch.id == batch_id, CodeBatch.status == "running")
                .values(
                    generated=total,
                    status=case((finished, "done"), else_=CodeBatch.status),
                    finished_at=case(
                        (finished, literal(hooks.clock(), UtcDateTime())),
                        else_=CodeBatch.finished_at,
                    ),
                )
                .returning(CodeBatch.generated)
                .execution_options(synchronize_session=False)
            )
        ).scalar_one_or_none()
        if after is None:  # marked failed meanwhile: this round's codes roll back
            raise GenerationStopped("the batch was stopped by another process")
        return inserted, after


async def mark_failed(
    sessions: Sessions, batch_id: int, reason: str, *, now: datetime
) -> CodeBatch | None:
    """Fail an unfinished batch with ``reason``; the batch as it is now."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(CodeBatch)
            .where(CodeBatch.id == batch_id, CodeBatch.status.in_(UNFINISHED))
            .values(status="failed", error=reason, finished_at=now)
            .execution_options(synchronize_session=False)
        )
        return await session.get(CodeBatch, batch_id, populate_existing=True)


async def fail_interrupted(bind: Bind, *, now: datetime) -> list[int]:
    """Mark batches left pending or running by a stopped process as failed; their ids.

    On PostgreSQL a batch whose run lock is held is alive in another process
    (a worker, the CLI) and is left alone.
    """
    sessions = create_sessionmaker(bind)
    async with sessions() as session:
        ids = list(
            await session.scalars(
                select(CodeBatch.id).where(CodeBatch.status.in_(UNFINISHED)).order_by(CodeBatch.id)
            )
        )
    failed: list[int] = []
    for batch_id in ids:
        async with _run_lock(bind, batch_id) as locked:
            if not locked:
                continue
            batch = await mark_failed(sessions, batch_id, INTERRUPTED_BY_RESTART, now=now)
            if batch is not None and batch.error == INTERRUPTED_BY_RESTART:
                failed.append(batch_id)
    if failed:
        log.warning("marked %d interrupted code batch(es) failed: %s", len(failed), failed)
    return failed
