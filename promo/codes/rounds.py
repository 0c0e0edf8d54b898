"""One round of a batch: draw the missing codes, insert those that are free, count them.

The database is the judge of uniqueness (the partial unique index of live
canonical forms, across all campaigns). A round inserts its candidates with
``ON CONFLICT DO NOTHING`` and reports how many went in; candidates that
collided (with any live code, or within the round) are drawn again by the next
round, so a batch ends with exactly ``count`` codes and never dies on a
uniqueness error.

- PostgreSQL: candidates are COPYed (asyncpg, text format) into a temporary
  staging table, then moved with one ``INSERT ... SELECT ... ON CONFLICT DO
  NOTHING``: two round trips per 100,000 codes. Rows go in sorted by canonical
  form, so concurrent rounds that draw the same codes take their index locks
  in the same order and cannot deadlock.
- SQLite: ``INSERT ... ON CONFLICT DO NOTHING RETURNING id``, executemany.
- A batch issued to customers (either database): the same executemany, each
  candidate carrying the ref of the customer it is drawn for; the customers
  whose candidate went in are marked with their code's id, the others wait
  for the next round (one round at a time: they are taken in upload order).

A round first takes its campaign row ``FOR KEY SHARE`` (``hold_campaign``):
the weakest row lock, the one the codes' foreign key takes anyway. It does
not conflict with the ``UPDATE`` of the campaign's counters and budget that
every redemption makes (a ``FOR NO KEY UPDATE``), so checkout never waits for
a batch; it conflicts only with ``FOR UPDATE``, which archiving takes
(``promo.campaigns.service.release_codes``). So an archive waits for the
rounds in flight and then releases their codes too, and a round that starts
after an archive sees it and inserts nothing.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from promo.campaigns.models import Campaign
from promo.codes.batch_views import batch_read
from promo.codes.batches import batch_pattern
from promo.codes.models import Code, CodeBatch, CodeBatchCustomer
from promo.codes.patterns import Pattern, generate_rows, parse_rows
from promo.db import dialect
from promo.errors import Conflict
from promo.events import outbox
from promo.events.outbox import EventType

Row = dict[str, Any]

CHUNK_POSTGRES = 100_000
CHUNK_SQLITE = 10_000
# A round that inserts nothing means every candidate collided. Under the
# guessability bound that is rare; this many in a row means the pattern's
# space is taken by other codes.
MAX_STALLED_ROUNDS = 200
STAGING = "promo_code_staging"


def chunk_size(dialect: str) -> int:
    """Codes per round (and per committed transaction of a background run)."""
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
    "active, live, affiliate_id, batch_id, created_at, expires_at) "
    "SELECT $1::bigint, code, canonical, 'batch', $2::integer, 0, true, true, "
    "$3::bigint, $4::bigint, $5::timestamptz, $6::timestamptz FROM promo_code_staging "
    "ORDER BY canonical ON CONFLICT (canonical) WHERE live DO NOTHING"
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
        batch.expires_at,
    )
    # The command tag: "INSERT 0 <rows>".
    return int(str(status).rsplit(" ", 1)[-1])


def _code_row(batch: CodeBatch, display: str, form: str, customer_ref: str | None) -> Row:
    return {
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
        "expires_at": batch.expires_at,
        "customer_ref": customer_ref,
    }


def _insert_codes(session: AsyncSession) -> Any:
    return (
        dialect.insert(session, Code)
        .on_conflict_do_nothing()  # any unique index: here, the live canonical form
        .returning(Code.id, Code.customer_ref)
    )


async def _executemany_round(
    session: AsyncSession, batch: CodeBatch, pattern: Pattern, need: int
) -> int:
    rows = [
        _code_row(batch, display, form, None)
        for display, form in parse_rows(generate_rows(pattern, need))
    ]
    return len((await session.execute(_insert_codes(session), rows)).all())


async def _customer_round(
    session: AsyncSession, batch: CodeBatch, pattern: Pattern, need: int
) -> int:
    """A round of a batch issued to customers: the next ``need`` customers
    without a code (upload order) each get a drawn code bound to their ref; a
    customer whose candidate collided waits for the next round's draw."""
    waiting = (
        await session.execute(
            select(CodeBatchCustomer.id, CodeBatchCustomer.customer_ref)
            .where(CodeBatchCustomer.batch_id == batch.id, CodeBatchCustomer.code_id.is_(None))
            .order_by(CodeBatchCustomer.id)
            .limit(need)
        )
    ).all()
    if not waiting:
        return 0
    drawn = parse_rows(generate_rows(pattern, len(waiting)))
    rows = [
        _code_row(batch, display, form, ref)
        for (display, form), (_, ref) in zip(drawn, waiting, strict=True)
    ]
    result = await session.execute(_insert_codes(session), rows)
    inserted = {ref: code_id for code_id, ref in result}
    if inserted:
        marks = [
            {"id": row_id, "code_id": inserted[ref]} for row_id, ref in waiting if ref in inserted
        ]
        await session.execute(update(CodeBatchCustomer), marks)
    return len(inserted)


async def hold_campaign(session: AsyncSession, campaign_id: int) -> bool:
    """Whether the campaign still takes new codes (it is not archived); its row
    stays held ``FOR KEY SHARE`` (PostgreSQL) until the transaction ends.

    Under READ COMMITTED a lock that had to wait for an archive returns the
    row as the archive left it, so a round never inserts into an archived
    campaign. SQLite: the transaction already holds the database's write lock.
    """
    status = await session.scalar(
        select(Campaign.status)
        .where(Campaign.id == campaign_id)
        .with_for_update(read=True, key_share=True)
    )
    return status is not None and status != "archived"


async def insert_round(session: AsyncSession, batch: CodeBatch, pattern: Pattern, need: int) -> int:
    """Draw ``need`` codes and insert those that are free; how many went in."""
    if batch.customers_until is not None:
        return await _customer_round(session, batch, pattern, need)
    if session.get_bind().dialect.name == "postgresql":
        return await _copy_round(session, batch, pattern, need)
    return await _executemany_round(session, batch, pattern, need)


async def fill_inline(session: AsyncSession, batch: CodeBatch, *, now: datetime) -> CodeBatch:
    """Generate a small batch inside the caller's transaction and mark it done
    (with its event code_batch.completed, as a batch run by a job)."""
    if not await hold_campaign(session, batch.campaign_id):
        raise Conflict("campaign_archived", "An archived campaign gets no new codes")
    pattern = batch_pattern(batch)
    stalled = 0
    while batch.generated < batch.count:
        inserted = await insert_round(session, batch, pattern, batch.count - batch.generated)
        batch.generated += inserted
        stalled = 0 if inserted else stalled + 1
        if stalled >= MAX_STALLED_ROUNDS:
            raise Conflict("pattern_exhausted", stalled_message(batch))
    batch.status = "done"
    batch.finished_at = now
    await session.flush()
    await outbox.emit(session, EventType.CODE_BATCH_COMPLETED, batch_read(batch), now=now)
    return batch


def stalled_message(batch: CodeBatch) -> str:
    return (
        f"no free code found in {MAX_STALLED_ROUNDS} rounds after {batch.generated} of "
        f"{batch.count}: other codes take the pattern's space"
    )
