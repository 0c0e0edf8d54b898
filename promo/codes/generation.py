"""Writing a batch's codes: exactly ``count`` unique codes, chunk by committed chunk.

The database is the judge of uniqueness (the partial unique index of live
canonical forms, across all campaigns). Each round draws as many candidates
as are still missing, inserts them with ``ON CONFLICT DO NOTHING`` and counts
what went in; codes that collided (with any live code, or within the round)
are simply drawn again in the next round, so a batch ends with exactly
``count`` codes and never dies on a uniqueness error.

- PostgreSQL: candidates are COPYed (asyncpg, text format) into a temporary
  staging table, then ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``: one
  round trip per 100,000 codes.
- SQLite: ``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` executemany.

A background (or CLI) run commits each round with the batch's ``generated``
count, so progress is visible and a crash loses at most one round. Each round
holds the campaign row (``FOR SHARE``: archiving waits for the round, and
later rounds see the archive and stop) and the batch row (``FOR UPDATE``: a
batch marked failed meanwhile is not written to any more). On PostgreSQL the
run also holds a session advisory lock on the batch, which tells a restarting
process that the batch is alive elsewhere (another worker, the CLI) and must
not be marked interrupted.
"""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from promo.campaigns.models import Campaign
from promo.clock import Clock
from promo.codes.batches import UNFINISHED, batch_pattern
from promo.codes.models import Code, CodeBatch
from promo.codes.patterns import Pattern, generate_rows, parse_rows
from promo.db.engine import create_sessionmaker
from promo.errors import Conflict

log = logging.getLogger("promo.codes.generation")

CHUNK_POSTGRES = 100_000
CHUNK_SQLITE = 10_000
# A round that inserts nothing means every candidate collided. Under the
# guessability bound that is rare; this many in a row means the pattern's
# space is taken by other codes.
MAX_STALLED_ROUNDS = 200
# Advisory lock namespace (PostgreSQL) of "this batch is being generated".
RUN_LOCK_NAMESPACE = 0x0C0DE1
STAGING = "promo_code_staging"
INTERRUPTED_BY_RESTART = "interrupted by a restart"
INTERRUPTED_BY_SHUTDOWN = "interrupted by a shutdown"

Bind = AsyncEngine | AsyncConnection
Progress = Callable[[int], None]


class GenerationStopped(Exception):
    """The batch cannot be completed; the message is stored as the batch's error."""


def chunk_size(dialect: str) -> int:
    return CHUNK_POSTGRES if dialect == "postgresql" else CHUNK_SQLITE


# One staging table per connection, emptied per round; its stable identity
# keeps asyncpg's prepared INSERT valid across rounds and transactions.
CREATE_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS promo_code_staging (code text, canonical text) "
    "ON COMMIT DELETE ROWS"
)
EMPTY_STAGING = "TRUNCATE promo_code_staging"
INSERT_FROM_STAGING = (
    "INSERT INTO codes (campaign_id, code, canonical, kind, max_redemptions, used, "
    "active, live, affiliate_id, batch_id, created_at) "
    "SELECT $1::bigint, code, canonical, 'batch', $2::integer, 0, true, true, "
    "$3::bigint, $4::bigint, $5::timestamptz FROM promo_code_staging "
    "ON CONFLICT (canonical) WHERE live DO NOTHING"
)


async def _copy_round(session: AsyncSession, batch: CodeBatch, pattern: Pattern, need: int) -> int:
    connection = await session.connection()
    # The asyncpg connection under SQLAlchemy's, inside the session's transaction.
    raw: Any = (await connection.get_raw_connection()).driver_connection
    await raw.execute(CREATE_STAGING)
    await raw.execute(EMPTY_STAGING)
    await raw.copy_to_table(
        STAGING,
        # A file object: asyncpg would take raw bytes for a path name.
        source=io.BytesIO(generate_rows(pattern, need)),
        columns=["code", "canonical"],
        format="text",
    )
    status = await raw.execute(
        INSERT_FROM_STAGING,
        batch.campaign_id,
        batch.max_redemptions_per_code,
        batch.affiliate_id,
        batch.id,
        batch.created_at,
    )
    # The command tag: "INSERT 0 <rows>".
    return int(str(status).rsplit(" ", 1)[-1])


async def _executemany_round(
    session: AsyncSession, batch: CodeBatch, pattern: Pattern, need: int
) -> int:
    rows = [
        {
            "campaign_id": batch.campaign_id,
            "code": display,
            "canonical": form,
            "kind": "batch",
            "max_redemptions": batch.max_redemptions_per_code,
            "used": 0,
            "active": True,
            "live": True,
            "affiliate_id": batch.affiliate_id,
            "batch_id": batch.id,
            "created_at": batch.created_at,
        }
        for display, form in parse_rows(generate_rows(pattern, need))
    ]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(Code)
        .on_conflict_do_nothing(index_elements=["canonical"], index_where=text("live"))
        .returning(Code.id)
    )
    return len((await session.execute(statement, rows)).all())


async def insert_round(session: AsyncSession, batch: CodeBatch, pattern: Pattern, need: int) -> int:
    """Draw ``need`` codes and insert those that are free; how many went in."""
    if session.get_bind().dialect.name == "postgresql":
        return await _copy_round(session, batch, pattern, need)
    return await _executemany_round(session, batch, pattern, need)


async def fill_inline(session: AsyncSession, batch: CodeBatch, *, now: datetime) -> CodeBatch:
    """Generate a small batch inside the caller's transaction and mark it done."""
    pattern = batch_pattern(batch)
    stalled = 0
    while batch.generated < batch.count:
        inserted = await insert_round(session, batch, pattern, batch.count - batch.generated)
        batch.generated += inserted
        stalled = 0 if inserted else stalled + 1
        if stalled >= MAX_STALLED_ROUNDS:
            raise Conflict("pattern_exhausted", _stalled_message(batch))
    batch.status = "done"
    batch.finished_at = now
    await session.flush()
    return batch


def _stalled_message(batch: CodeBatch) -> str:
    return (
        f"no free code found in {MAX_STALLED_ROUNDS} rounds after {batch.generated} of "
        f"{batch.count}: other codes take the pattern's space"
    )


@asynccontextmanager
async def held_connection(bind: Bind) -> AsyncIterator[AsyncConnection]:
    """A connection for the whole run; a test's own connection is used as given."""
    if isinstance(bind, AsyncConnection):
        yield bind
        return
    async with bind.connect() as connection:
        yield connection


async def _try_lock(connection: AsyncConnection, batch_id: int) -> bool:
    if connection.dialect.name != "postgresql":
        return True
    locked = await connection.scalar(
        text("SELECT pg_try_advisory_lock(:namespace, :batch)"),
        {"namespace": RUN_LOCK_NAMESPACE, "batch": batch_id},
    )
    return bool(locked)


async def _unlock(connection: AsyncConnection, batch_id: int) -> None:
    if connection.dialect.name == "postgresql":
        await connection.execute(
            text("SELECT pg_advisory_unlock(:namespace, :batch)"),
            {"namespace": RUN_LOCK_NAMESPACE, "batch": batch_id},
        )


@dataclass(frozen=True)
class RunHooks:
    """How a run reports progress and learns that it should stop."""

    clock: Clock
    on_progress: Progress | None = None
    # Checked between rounds: a stop never cuts a statement in half.
    should_stop: Callable[[], bool] | None = None


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
    async with held_connection(bind) as connection:
        owns = connection is not bind
        if not await _try_lock(connection, batch_id):
            return None
        if owns:
            await connection.commit()
        try:
            return await _generate(connection, batch_id, hooks)
        finally:
            await _unlock(connection, batch_id)
            if owns:
                await connection.commit()


async def _generate(
    connection: AsyncConnection, batch_id: int, hooks: RunHooks
) -> CodeBatch | None:
    sessions = create_sessionmaker(connection)
    async with sessions() as session, session.begin():
        campaign_id = await session.scalar(
            update(CodeBatch)
            .where(CodeBatch.id == batch_id, CodeBatch.status == "pending")
            .values(status="running")
            .returning(CodeBatch.campaign_id)
        )
    if campaign_id is None:
        return None
    try:
        return await _rounds(sessions, batch_id, campaign_id, hooks)
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


async def _rounds(
    sessions: Callable[[], AsyncSession], batch_id: int, campaign_id: int, hooks: RunHooks
) -> CodeBatch:
    pattern: Pattern | None = None
    stalled = 0
    while True:
        if hooks.should_stop is not None and hooks.should_stop():
            raise GenerationStopped(INTERRUPTED_BY_SHUTDOWN)
        async with sessions() as session, session.begin():
            # Lock order: campaign, then batch (then codes), as everywhere.
            campaign_status = await session.scalar(
                select(Campaign.status).where(Campaign.id == campaign_id).with_for_update(read=True)
            )
            batch = await session.get(
                CodeBatch, batch_id, with_for_update=True, populate_existing=True
            )
            if batch is None or batch.status != "running":
                raise GenerationStopped("the batch was stopped by another process")
            if campaign_status == "archived":
                raise GenerationStopped("the campaign was archived while generating")
            pattern = pattern or batch_pattern(batch)
            need = min(chunk_size(session.get_bind().dialect.name), batch.count - batch.generated)
            inserted = await insert_round(session, batch, pattern, need)
            batch.generated += inserted
            stalled = 0 if inserted else stalled + 1
            if stalled >= MAX_STALLED_ROUNDS:
                raise GenerationStopped(_stalled_message(batch))
            if batch.generated == batch.count:
                batch.status = "done"
                batch.finished_at = hooks.clock()
        if hooks.on_progress is not None:
            hooks.on_progress(batch.generated)
        if batch.status == "done":
            return batch


async def mark_failed(
    sessions: Callable[[], AsyncSession], batch_id: int, reason: str, *, now: datetime
) -> CodeBatch | None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(CodeBatch)
            .where(CodeBatch.id == batch_id, CodeBatch.status.in_(UNFINISHED))
            .values(status="failed", error=reason, finished_at=now)
        )
        return await session.get(CodeBatch, batch_id, populate_existing=True)


async def fail_interrupted(bind: Bind, *, now: datetime) -> list[int]:
    """Mark batches left pending or running by a stopped process as failed; their ids.

    On PostgreSQL a batch whose run lock is held is alive in another process
    (a worker, the CLI) and is left alone.
    """
    failed: list[int] = []
    async with held_connection(bind) as connection:
        owns = connection is not bind
        sessions = create_sessionmaker(connection)
        async with sessions() as session, session.begin():
            ids = list(
                await session.scalars(
                    select(CodeBatch.id)
                    .where(CodeBatch.status.in_(UNFINISHED))
                    .order_by(CodeBatch.id)
                )
            )
        for batch_id in ids:
            if not await _try_lock(connection, batch_id):
                continue
            if owns:
                await connection.commit()
            try:
                if await mark_failed(sessions, batch_id, INTERRUPTED_BY_RESTART, now=now):
                    failed.append(batch_id)
            finally:
                await _unlock(connection, batch_id)
                if owns:
                    await connection.commit()
    if failed:
        log.warning("marked %d interrupted code batch(es) failed: %s", len(failed), failed)
    return failed
