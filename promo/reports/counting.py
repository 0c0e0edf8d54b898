"""Validations counted per worker in memory, flushed to the roll-ups as additive upserts.

A validation must not wait for a write, so ``POST /v1/validations`` only
adds one to a dictionary entry of this process (``ValidationCounter.count``:
no I/O, no lock; the event loop runs one request step at a time). Every
``flush_seconds`` (``PROMO_REPORT_FLUSH_SECONDS``) and at shutdown the
``Flusher`` hands what was counted since to the database: one row per (UTC
hour, code) in ``report_hours`` and per (UTC day, code) in ``report_days``,
each ``INSERT .. ON CONFLICT DO UPDATE SET n = n + excluded.n``. Additions
commute, so any number of workers and hosts flushing at any time add up to
the exact totals; rows go in key order, so that two flushes lock the rows
they share in the same order and never deadlock each other, and a roll-up
runs between flushes, never during one (``add_counts``).

A flush that fails (the database away) puts its counts back, to go with the
next one. What a worker counted since its last flush is lost only if the
process dies without shutting down (SIGKILL, a crash): at most
``flush_seconds`` of its validations. Validations of a code that does not
exist are not counted: they belong to no code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from promo.db import dialect
from promo.reports.buckets import HOUR_SECONDS, HOURS_PER_DAY
from promo.reports.models import VALIDATION_COLUMNS, ReportDay, ReportHour
from promo.reports.rollup import ROLLUP_LOCK_KEY

log = logging.getLogger("promo.reports")
hours = cast(Table, ReportHour.__table__)
days = cast(Table, ReportDay.__table__)
# Rows per executemany: the event loop gets a turn between chunks.
CHUNK_ROWS = 1000


class Tally:
    """What one (hour, code) counted, with the code's campaign, affiliate and currency."""

    __slots__ = ("affiliate_id", "campaign_id", "currency", "tried", "valid")

    def __init__(self, campaign_id: int, affiliate_id: int | None, currency: str) -> None:
        self.campaign_id = campaign_id
        self.affiliate_id = affiliate_id
        self.currency = currency
        self.tried = 0
        self.valid = 0


Counts = dict[tuple[int, int], Tally]


class ValidationCounter:
    """This process's validations since its last flush, per (UTC hour, code id)."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: Counts = {}

    def count(
        self,
        *,
        code_id: int,
        campaign_id: int,
        affiliate_id: int | None,
        currency: str,
        valid: bool,
        now: datetime,
    ) -> None:
        """One validation of a live code at ``now`` (an aware instant)."""
        key = (int(now.timestamp()) // HOUR_SECONDS, code_id)
        tally = self._counts.get(key)
        if tally is None:
            tally = self._counts[key] = Tally(campaign_id, affiliate_id, currency)
        tally.tried += 1
        if valid:
            tally.valid += 1

    def pending(self) -> int:
        """How many (hour, code) rows the next flush would write."""
        return len(self._counts)

    async def flush(self, sessionmaker: async_sessionmaker[AsyncSession]) -> int:
        """Add what was counted to the roll-ups in one transaction of its own;
        returns the hour rows written. On failure the counts are kept for the next."""
        taken, self._counts = self._counts, {}
        if not taken:
            return 0
        try:
            async with sessionmaker() as session, session.begin():
                await add_counts(session, taken)
        except BaseException:
            self._put_back(taken)
            raise
        return len(taken)

    def _put_back(self, taken: Counts) -> None:
        for key, tally in taken.items():
            kept = self._counts.setdefault(key, tally)
            if kept is not tally:
                kept.tried += tally.tried
                kept.valid += tally.valid


def _rows(counts: Counts) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The hour rows and the day rows of ``counts``, each in key order."""
    by_day: dict[tuple[int, int], dict[str, Any]] = {}
    hour_rows = []
    for (hour, code_id), tally in sorted(counts.items()):
        identity = {
            "code_id": code_id,
            "campaign_id": tally.campaign_id,
            "affiliate_id": tally.affiliate_id,
            "currency": tally.currency,
        }
        hour_rows.append(
            {
                "hour": hour,
                **identity,
                "validations_tried": tally.tried,
                "validations_valid": tally.valid,
            }
        )
        day = by_day.setdefault(
            (hour // HOURS_PER_DAY, code_id),
            {
                "day": hour // HOURS_PER_DAY,
                **identity,
                "validations_tried": 0,
                "validations_valid": 0,
            },
        )
        day["validations_tried"] += tally.tried
        day["validations_valid"] += tally.valid
    return hour_rows, [by_day[key] for key in sorted(by_day)]


def _additive(insert: Any, table: Table, key: str) -> Any:
    """``insert`` into ``table`` that adds the validations to a row already there."""
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=[key, "code_id"],
        set_={name: table.c[name] + statement.excluded[name] for name in VALIDATION_COLUMNS},
    )


# Built once; run with a list of rows (executemany: one compiled statement, the
# rows sent by the driver), not as one multi-row VALUES compiled per flush.
ADD_TO_HOURS = dialect.prebuilt(lambda insert: _additive(insert, hours, "hour"))
ADD_TO_DAYS = dialect.prebuilt(lambda insert: _additive(insert, days, "day"))


async def add_counts(session: AsyncSession, counts: Counts) -> None:
    """Add ``counts`` to ``report_hours`` and ``report_days`` (additive upserts).

    On PostgreSQL a flush holds the roll-ups' advisory lock shared: flushes
    never wait for each other, and a roll-up (which holds it exclusively) and a
    flush never take the same rows in opposite orders. A flush that waits is
    off any request's path."""
    if dialect.is_postgres(session):
        await session.execute(
            text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": ROLLUP_LOCK_KEY}
        )
    hour_rows, day_rows = _rows(counts)
    for statement, rows in ((ADD_TO_HOURS, hour_rows), (ADD_TO_DAYS, day_rows)):
        for chunk in _chunks(rows):
            await session.execute(dialect.for_dialect(session, statement), chunk)


def _chunks(rows: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK_ROWS):
        yield rows[start : start + CHUNK_ROWS]


class Flusher:
    """Flushes a counter every ``seconds`` while the app runs, and once at shutdown."""

    def __init__(
        self,
        counter: ValidationCounter,
        sessionmaker: async_sessionmaker[AsyncSession],
        seconds: float,
    ) -> None:
        self.counter = counter
        self.sessionmaker = sessionmaker
        self.seconds = seconds
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Startup hook: begin flushing periodically."""
        self._task = asyncio.create_task(self._run(), name="promo-validation-flush")

    async def stop(self) -> None:
        """Shutdown hook (before the engine goes): stop, then flush what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.seconds)
            await self._flush()

    async def _flush(self) -> None:
        try:
            await self.counter.flush(self.sessionmaker)
        except Exception:
            log.warning(
                "could not flush validation counts (%d rows kept for the next flush)",
                self.counter.pending(),
                exc_info=True,
            )
