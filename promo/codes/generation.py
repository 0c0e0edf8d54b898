"""Runs of a batch: committed rounds, progress, stop, resume.

A run claims its batch (``running``), then repeats rounds
(``promo.codes.rounds``) until ``generated == count``. Each round is its own
committed transaction that also adds what it inserted to the batch's
``generated``, so progress is visible and a crash loses at most one round:
``generated`` always equals the batch's stored codes. A run is a job
(promo.codes.batch_jobs): the job's lease makes it the only run of its
batch, and a run interrupted anywhere (a shutdown, SIGKILL, a lost host)
resumes from what it committed, on whichever worker takes the job next.

On PostgreSQL two rounds run at once on two connections (the database's work
dominates and this machine has two cores); their ``generated`` updates are
serialised by the batch row. Each round holds the campaign row ``FOR KEY
SHARE`` (``promo.codes.rounds.hold_campaign``: archiving waits for it, later
rounds see the archive and stop, and redemptions, which only update the
campaign's counters, never wait) and adds to ``generated`` only while the
batch is still ``running``: a batch marked failed meanwhile gets no more
codes, as the round rolls back.

The round that completes a batch writes its event code_batch.completed, and
``mark_failed`` writes code_batch.failed, each in the transaction that ends
the batch: a batch ends once, and is told once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, literal, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from promo.clock import Clock
from promo.codes.batch_views import batch_read
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
from promo.events import outbox
from promo.events.outbox import EventType

log = logging.getLogger("promo.codes.generation")

# Rounds at once on PostgreSQL (each on its own connection).
STREAMS_POSTGRES = 2

Bind = AsyncEngine | AsyncConnection
Sessions = Callable[[], AsyncSession]
Progress = Callable[[int], None]


class GenerationStopped(Exception):
    """The batch cannot be completed; the message is stored as the batch's error."""


class Interrupted(Exception):
    """The run stopped between two rounds when asked to (a batch, an import); it
    resumes later from its last committed round."""


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


async def run_batch(
    bind: Bind,
    batch_id: int,
    *,
    clock: Clock,
    on_progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> CodeBatch | None:
    """Generate an unfinished batch to the end, from what earlier runs committed;
    the batch as it ended (done, or failed for a reason of its own). None when
    it had already ended. ``Interrupted`` when ``should_stop`` said so between
    two rounds: the batch stays running, to be resumed.

    The caller must be the batch's only run: its job's lease sees to it.
    """
    hooks = RunHooks(clock, on_progress, should_stop)
    sessions = create_sessionmaker(bind)
    async with sessions() as session, session.begin():
        claimed = (
            await session.execute(
                update(CodeBatch)
                .where(CodeBatch.id == batch_id, CodeBatch.status.in_(UNFINISHED))
                .values(status="running")
                .returning(CodeBatch.campaign_id, CodeBatch.customers_until)
            )
        ).first()
    if claimed is None:
        return None
    campaign_id, customers_until = claimed
    # One connection (a test's) can serve one round at a time; a batch issued
    # to customers takes them in upload order, one round at a time.
    parallel = (
        bind.dialect.name == "postgresql"
        and isinstance(bind, AsyncEngine)
        and customers_until is None
    )
    streams = STREAMS_POSTGRES if parallel else 1
    # A failure of the batch's own (archived campaign, pattern full) ends it;
    # anything else (the database went away) is the job's failed attempt, and
    # the next attempt resumes.
    try:
        return await _rounds(sessions, batch_id, campaign_id, hooks, streams)
    except GenerationStopped as exc:
        return await mark_failed(sessions, batch_id, str(exc), now=hooks.clock())


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
            raise Interrupted(batch_id)
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
        if after == batch.count:
            ended = await session.get(CodeBatch, batch_id, populate_existing=True)
            assert ended is not None  # noqa: S101 (this transaction updated it)
            await outbox.emit(
                session, EventType.CODE_BATCH_COMPLETED, batch_read(ended), now=hooks.clock()
            )
        return inserted, after


async def mark_failed(
    sessions: Sessions, batch_id: int, reason: str, *, now: datetime
) -> CodeBatch | None:
    """Fail an unfinished batch with ``reason`` (and its event); the batch as it is now."""
    async with sessions() as session, session.begin():
        failed = await session.scalar(
            update(CodeBatch)
            .where(CodeBatch.id == batch_id, CodeBatch.status.in_(UNFINISHED))
            .values(status="failed", error=reason, finished_at=now)
            .returning(CodeBatch.id)
            .execution_options(synchronize_session=False)
        )
        batch = await session.get(CodeBatch, batch_id, populate_existing=True)
        if failed is not None and batch is not None:
            await outbox.emit(session, EventType.CODE_BATCH_FAILED, batch_read(batch), now=now)
        return batch
