"""Validations counted per worker in memory, flushed to the roll-ups as additive upserts.

A validation must not wait for a write, so ``POST /v1/validations`` only
adds one to a dictionary entry of this process (``ValidationCounter.count``:
no I/O, no lock; the event loop runs one request step at a time). Every
``flush_seconds`` (``PROMO_REPORT_FLUSH_SECONDS``) and at shutdown the
``Flusher`` hands what was counted since to the database: one row per (UTC
hour, code) in ``report_hours``, and per (UTC day, code), (week, code) and
(month, code) in ``report_days``, ``report_weeks`` and ``report_months``
(promo.reports.grains), each ``INSERT .. ON CONFLICT DO UPDATE SET n = n +
excluded.n``, all in one transaction. Additions commute, so any number of
workers and hosts flushing at any time add up to the exact totals; rows go
in key order, so that two flushes lock the rows they share in the same order
and never deadlock each other, and a roll-up runs between flushes, never
during one (``add_counts``).

A flush that fails (the database away) puts its counts back, to go with the
next one. What a worker counted since its last flush is lost only if the
process dies without shutting down (SIGKILL, a crash): at most
``flush_seconds`` of its validations. Validations of a code that does not
exist are not counted: they belong to no code.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from promo.db import dialect
from promo.reports.grains import GRAINS, HOUR_SECONDS, Grain
from promo.reports.models import VALIDATION_COLUMNS
from promo.reports.rollup import ROLLUP_LOCK_KEY

log = logging.getLogger("promo.reports")
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


def _rows(counts: Counts) -> list[tuple[Grain, list[dict[str, Any]]]]:
    """The rows of ``counts`` for each grain, finest first, each in key order."""
    found = []
    hours = {hour for hour, _ in counts}
    for grain in GRAINS:
        unit_of = {hour: grain.floor(hour) for hour in hours}
        rows: dict[tuple[int, int], dict[str, Any]] = {}
        for (hour, code_id), tally in counts.items():
            unit = unit_of[hour]
            row = rows.get((unit, code_id))
            if row is None:
                row = rows[(unit, code_id)] = {
                    grain.name: unit,
                    "code_id": code_id,
                    "campaign_id": tally.campaign_id,
                    "affiliate_id": tally.affiliate_id,
                    "currency": tally.currency,
                    "validations_tried": 0,
                    "validations_valid": 0,
                }
            row["validations_tried"] += tally.tried
            row["validations_valid"] += tally.valid
        found.append((grain, [rows[key] for key in sorted(rows)]))
    return found


def _additive(grain: Grain, insert: Any) -> Any:
    """``insert`` into ``grain``'s table that adds the validations to a row already there."""
    table = grain.table
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=[grain.name, "code_id"],
        set_={name: table.c[name] + statement.excluded[name] for name in VALIDATION_COLUMNS},
    )


# Built once; run with a list of rows (executemany: one compiled statement, the
# rows sent by the driver), not as one multi-row VALUES compiled per flush.
ADD_TO: dict[str, dict[str, Any]] = {
    grain.name: dialect.prebuilt(functools.partial(_additive, grain)) for grain in GRAINS
}


async def add_counts(session: AsyncSession, counts: Counts) -> None:
    """Add ``counts`` to the hours, days, weeks and months (additive upserts).

    On PostgreSQL a flush holds the roll-ups' advisory lock shared: flushes
    never wait for each other, and a roll-up (which holds it exclusively) and a
    flush never take the same rows in opposite orders. A flush that waits is
    off any request's path."""
    if dialect.is_postgres(session):
        await session.execute(
            text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": ROLLUP_LOCK_KEY}
        )
    for grain, rows in _rows(counts):
        for chunk in _chunks(rows):
            await session.execute(dialect.for_dialect(session, ADD_TO[grain.name]), chunk)


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
