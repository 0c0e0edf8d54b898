"""The sales roll-up: per UTC hour and code, recomputed from the ledger.

The ledger (redemption, refund and reversal entries, joined to their
redemption for the code) is the source of truth; ``roll_up`` recomputes the
sales columns of ``report_hours`` for whole hours, then those of
``report_days`` for the days they fall in, from the hours, and those of
``report_weeks`` and ``report_months`` for the weeks and months these days
fall in, from the days (``rebuild_grains``). It is idempotent:
it replaces, never adds, so running it twice, or on a period done before,
gives the same rows. It leaves the validation columns alone (the workers add
to them, promo.reports.counting) and deletes the rows left all zero.

``report_rollup_state.sales_until`` says up to when the sales columns are
complete (every hour before it rolled up, contiguously from the first sale).
Reports take sales from the roll-ups before it and from the ledger itself
after it (``sales_by_hour``, the same query), so they are exact up to now
whether or not a roll-up ran. A roll-up never covers the last ``SETTLE``:
a sale's entry is stamped by the clock of the worker that wrote it when its
transaction starts, and becomes visible when it commits, a moment later.

Nothing here commits: a job calls ``catch_up`` (or ``roll_up`` for a chosen
period, e.g. to redo a day) in its own transaction, repeatedly, committing
in between. On PostgreSQL roll-ups are serialised by an advisory lock, which
validation flushes take shared (promo.reports.counting.add_counts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, case, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from promo.checkout.models import Redemption
from promo.db import dialect
from promo.db.epoch import utc_hour
from promo.ledger.models import LedgerEntry
from promo.reports.grains import (
    BY_NAME,
    GRAINS,
    HOUR,
    HOURS_PER_DAY,
    Grain,
    hour_ceiling,
    hour_of,
    instant_of,
)
from promo.reports.models import FIGURE_COLUMNS, SALES_COLUMNS, RollupState
from promo.reports.sql import step

entries = cast(Table, LedgerEntry.__table__)
redemptions = cast(Table, Redemption.__table__)
hours = HOUR.table
state = cast(Table, RollupState.__table__)

SALES_KINDS = ("redemption", "refund", "reversal")
SETTLE = timedelta(minutes=10)
# The most a ``catch_up`` step rolls up: a month of hours, one transaction.
STEP_HOURS = 31 * HOURS_PER_DAY
ROLLUP_LOCK_KEY = 0x70726F6D6F5255  # "promoRU"
STATE_ID = 1
IDENTITY = ("campaign_id", "affiliate_id", "currency")


def sales_by_hour(first_hour: int, end_hour: int | None = None) -> Select[Any]:
    """The sales figures of each (hour, code) with entries in ``[first_hour, end_hour)``,
    from the ledger: redemption entries and their order amounts (revenue), the
    signed discount and commission of every sales entry (granted less taken
    back), refunded order amounts (positive) and how many refund and reversal
    entries. Columns: ``hour``, ``code_id``, ``IDENTITY``, ``SALES_COLUMNS``."""
    hour = utc_hour(entries.c.created_at)
    sale = entries.c.kind == "redemption"
    taken_back = entries.c.kind != "redemption"
    query = (
        select(
            hour.label("hour"),
            redemptions.c.code_id,
            *(func.min(entries.c[name]).label(name) for name in IDENTITY),
            func.sum(case((sale, 1), else_=0)).label("redemptions"),
            func.sum(case((sale, entries.c.order_amount), else_=0)).label("revenue"),
            func.sum(entries.c.discount).label("discount"),
            func.sum(entries.c.commission).label("commission"),
            func.sum(case((taken_back, -entries.c.order_amount), else_=0)).label("refunds"),
            func.sum(case((taken_back, 1), else_=0)).label("refunds_count"),
        )
        .select_from(entries.join(redemptions, redemptions.c.id == entries.c.redemption_id))
        .where(entries.c.kind.in_(SALES_KINDS), entries.c.created_at >= instant_of(first_hour))
        .group_by(hour, redemptions.c.code_id)
    )
    if end_hour is not None:
        query = query.where(entries.c.created_at < instant_of(end_hour))
    return query


@dataclass(frozen=True)
class Period:
    """UTC hours ``[first_hour, end_hour)``."""

    first_hour: int
    end_hour: int

    @property
    def start(self) -> datetime:
        return instant_of(self.first_hour)

    @property
    def end(self) -> datetime:
        return instant_of(self.end_hour)


def settled_hour(now: datetime) -> int:
    """The end of the hours a roll-up may cover at ``now``: ``SETTLE`` ago, floored."""
    return hour_of(now - SETTLE)


async def sales_until(session: AsyncSession) -> datetime | None:
    """Before this instant, every hour's sales are rolled up; None: no hour is yet."""
    value: datetime | None = await session.scalar(
        select(state.c.sales_until).where(state.c.id == STATE_ID)
    )
    return value


async def roll_up(
    session: AsyncSession, *, start: datetime, end: datetime, now: datetime
) -> Period | None:
    """Recompute the sales of the UTC hours from ``start`` (floored to its hour)
    to ``end`` (rounded up), up to ``SETTLE`` before ``now`` at most, and of the
    days, weeks and months they fall in. Returns the hours done; None when none
    could be."""
    first = hour_of(start)
    end_hour = min(hour_ceiling(end), settled_hour(now))
    if end_hour <= first:
        return None
    await _lock(session)
    period = Period(first, end_hour)
    await _recompute_hours(session, period)
    await rebuild_grains(session, period.first_hour, period.end_hour)
    await _advance(session, period, now)
    return period


async def catch_up(
    session: AsyncSession, *, now: datetime, max_hours: int = STEP_HOURS
) -> Period | None:
    """Roll up the next hours not yet rolled up (at most ``max_hours``, up to
    ``SETTLE`` before ``now``): from ``sales_until``, or from the first sale on
    a ledger never rolled up. None when there is nothing to do. A job calls it
    until it returns None, committing after each call."""
    await _lock(session)
    until = await sales_until(session)
    if until is not None:
        first = hour_of(until)
    else:
        earliest = await _first_sale(session)
        first = hour_of(earliest) if earliest is not None else settled_hour(now)
    end_hour = min(first + max_hours, settled_hour(now))
    if end_hour <= first:
        if until is None:  # no sale at all yet: nothing before now is missing
            await _set_until(session, instant_of(end_hour), now)
        return None
    return await roll_up(session, start=instant_of(first), end=instant_of(end_hour), now=now)


async def _lock(session: AsyncSession) -> None:
    if dialect.is_postgres(session):
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ROLLUP_LOCK_KEY})


async def _first_sale(session: AsyncSession) -> datetime | None:
    value: datetime | None = await session.scalar(
        select(func.min(entries.c.created_at)).where(entries.c.kind.in_(SALES_KINDS))
    )
    return value


def _zero_sales() -> dict[str, int]:
    return dict.fromkeys(SALES_COLUMNS, 0)


def _all_zero(table: Table) -> list[Any]:
    return [table.c[name] == 0 for name in FIGURE_COLUMNS]


async def _replace_sales(
    session: AsyncSession, table: Table, key: str, low: int, high: int, source: Select[Any]
) -> None:
    """Set the sales columns of ``table``'s rows with ``low <= key < high`` to what
    ``source`` gives (zero where it gives nothing); validations stay."""
    keyed = (table.c[key] >= low, table.c[key] < high)
    await session.execute(update(table).where(*keyed).values(_zero_sales()))
    columns = [key, "code_id", *IDENTITY, *SALES_COLUMNS]
    insert = dialect.insert(session, table).from_select(columns, source)
    insert = insert.on_conflict_do_update(
        index_elements=[key, "code_id"],
        set_={name: insert.excluded[name] for name in SALES_COLUMNS},
    )
    await session.execute(insert)
    await session.execute(delete(table).where(*keyed, *_all_zero(table)))


async def _recompute_hours(session: AsyncSession, period: Period) -> None:
    source = sales_by_hour(period.first_hour, period.end_hour)
    await _replace_sales(session, hours, "hour", period.first_hour, period.end_hour, source)


def sums_of_parts(grain: Grain, units: range, columns: Sequence[str]) -> Select[Any]:
    """The rows of ``grain``'s ``units`` as the sums of their parts' rows (a day of
    its hours, a week or a month of its days): columns ``grain.name``,
    ``code_id``, ``IDENTITY`` and ``columns``."""
    parts = BY_NAME[grain.parts] if grain.parts is not None else None
    if parts is None or not units:
        raise ValueError(f"no {grain.name} units to build from parts")
    starts = [parts.floor(grain.start(key)) for key in units]
    end = parts.floor(grain.start(units[-1] + 1))
    table = parts.table
    unit = step(f"{table.name}.{parts.name}", starts, units).label(grain.name)
    return (
        select(
            unit,
            table.c.code_id,
            *(func.min(table.c[name]).label(name) for name in IDENTITY),
            *(func.sum(table.c[name]).label(name) for name in columns),
        )
        .where(parts.key >= starts[0], parts.key < end)
        # One unit is a constant, which GROUP BY would read as a column's position.
        .group_by(*([unit] if len(units) > 1 else []), table.c.code_id)
    )


async def rebuild_grains(session: AsyncSession, first_hour: int, end_hour: int) -> None:
    """Recompute the sales of the days, weeks and months holding the hours
    ``[first_hour, end_hour)``, finest first, each unit the sum of its parts."""
    for grain in GRAINS[1:]:
        units = grain.units(first_hour, end_hour)
        source = sums_of_parts(grain, units, SALES_COLUMNS)
        await _replace_sales(session, grain.table, grain.name, units.start, units.stop, source)


async def _advance(session: AsyncSession, period: Period, now: datetime) -> None:
    """Move ``sales_until`` to the end of ``period`` when every hour before it is
    rolled up: ``period`` starts at or before it, or before the first sale."""
    until = await sales_until(session)
    if until is not None:
        if hour_of(until) >= period.first_hour and until < period.end:
            await _set_until(session, period.end, now)
        return
    earliest = await _first_sale(session)
    if earliest is None or hour_of(earliest) >= period.first_hour:
        await _set_until(session, period.end, now)


async def _set_until(session: AsyncSession, until: datetime, now: datetime) -> None:
    insert = dialect.insert(session, state).values(id=STATE_ID, sales_until=until, updated_at=now)
    insert = insert.on_conflict_do_update(
        index_elements=["id"], set_={"sales_until": until, "updated_at": now}
    )
    await session.execute(insert)
