"""commission.available: told once per ledger entry when its ``available_at``
passes (its commission now counts as approved, payable at the next payout).

A recurring job (``commission_available``, every minute) looks for entries
that change an affiliate's balance (commission not zero, payouts excepted)
whose ``available_at`` has passed since its last look, and writes one event
per entry. Once per entry: each event carries the key
``commission.available:<entry id>``, unique among events, so an entry seen
twice (two looks overlap, a scan re-run after a crash) is told once. Each
look starts a few minutes before where the last one ended (``through``, kept
in the job's payload): an entry whose transaction committed a little after
its ``available_at`` (refunds and adjustments are available at once) is not
skipped. A first look starts at the time it runs: entries that became
available before webhooks existed are not told.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import String, Table, and_, exists, literal
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from promo.db.engine import create_sessionmaker
from promo.events import outbox
from promo.events.outbox import EventType
from promo.jobs.worker import JobContext, Stopped
from promo.ledger.models import LedgerEntry
from promo.ledger.service import entries_with_payout
from promo.ledger.views import entry_read

KIND = "commission_available"
EVERY = timedelta(minutes=1)
# How far before the last look's end the next one starts (late commits).
OVERLAP = timedelta(minutes=5)
PAGE = 500
KEY_PREFIX = "commission.available:"

entries = cast(Table, LedgerEntry.__table__)
events = outbox.events


def event_key(entry_id: int) -> str:
    return f"{KEY_PREFIX}{entry_id}"


async def tell(session: AsyncSession, *, since: datetime, now: datetime) -> int:
    """Write the event of every entry available in (``since``, ``now``] that has
    none yet; how many were written."""
    told = 0
    key = literal(KEY_PREFIX, String) + sql_cast(entries.c.id, String)
    after = (since, 0)
    while True:
        query = (
            entries_with_payout()
            .where(
                entries.c.affiliate_id.is_not(None),
                entries.c.commission != 0,
                entries.c.kind != "payout",
                entries.c.available_at <= now,
                # (available_at, id) past the last row of the previous page
                (entries.c.available_at > after[0])
                | and_(entries.c.available_at == after[0], entries.c.id > after[1]),
                ~exists().where(events.c.key == key),
            )
            .order_by(entries.c.available_at, entries.c.id)
            .limit(PAGE)
        )
        rows = list((await session.execute(query)).all())
        for row in rows:
            made = await outbox.emit(
                session,
                EventType.COMMISSION_AVAILABLE,
                entry_read(row, now),
                now=now,
                key=event_key(row.id),
            )
            told += made is not None
        if len(rows) < PAGE:
            return told
        after = (rows[-1].available_at, rows[-1].id)


async def run(ctx: JobContext) -> None:
    """The job: one look from where the last one ended, then again in a minute."""
    now = ctx.clock()
    through = ctx.job.payload.get("through")
    since = (datetime.fromisoformat(through) if through else now) - OVERLAP
    async with create_sessionmaker(ctx.bind)() as session, session.begin():
        await tell(session, since=since, now=now)
        if not await ctx.again_in(session, now + EVERY, {"through": now.isoformat()}):
            raise Stopped  # the lease was lost: another worker looks instead
