"""The performance report: one statement over the roll-ups and, for what is not
rolled up yet, the ledger.

``promo.reports.buckets`` cuts the period into buckets (UTC hour ranges) and
says which roll-up rows make each (``Term``: units of ``report_months``,
``report_weeks``, ``report_days`` and ``report_hours``, added or subtracted);
before ``sales_until`` the roll-ups give every figure, after it only
validations, and the ledger the sales (``sales_by_hour``, the query the
roll-up itself stores). ``promo.reports.sql.reads`` turns the terms into
ranges of each table read once, numbered (``piece``, a balanced ``CASE`` over
the ranges' starts), and the buckets each piece counts in (``uses``, joined):
the rows are summed per bucket, roll-up key and currency, and then per group
(codes joined for their text or channel).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import msgspec
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Result,
    Select,
    Subquery,
    Table,
    case,
    func,
    literal_column,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from promo.codes.models import Code
from promo.db import dialect
from promo.errors import Invalid
from promo.money import MAX_SAFE_INTEGER
from promo.reports.buckets import Buckets, Term, sources
from promo.reports.grains import BY_NAME, hour_of
from promo.reports.models import FIGURE_COLUMNS, SALES_COLUMNS, VALIDATION_COLUMNS
from promo.reports.rollup import sales_by_hour, sales_until
from promo.reports.schemas import GroupBy
from promo.reports.sql import reads, step, uses_table, within

codes = cast(Table, Code.__table__)
# For this transaction only (PostgreSQL). A report is one statement over up to a
# few hundred thousand rows: JIT compiling it costs more (~120 ms) than it saves,
# and summing into a hash table of groups needs more than the default 4 MB, under
# which PostgreSQL sorts every row, spilling to disk, instead.
TUNED = text("SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)")
# The column of the roll-ups (and of sales_by_hour) each grouping starts from;
# channels are the codes' labels, joined at the end.
KEYS: dict[str, str] = {
    "campaign": "campaign_id",
    "affiliate": "affiliate_id",
    "code": "code_id",
    "channel": "code_id",
}


# The group columns a line may have (each shape selects some), in sort order.
GROUP_COLUMNS = ("campaign_id", "affiliate_id", "code", "channel")


class Line(msgspec.Struct, frozen=True):
    """One group, currency and bucket, with the sums of ``FIGURE_COLUMNS``."""

    bucket: int
    currency: str
    campaign_id: int | None
    affiliate_id: int | None
    code: str | None
    channel: str | None
    sums: dict[str, int]


class Report(msgspec.Struct, frozen=True):
    sales_until: datetime | None
    lines: list[Line]


def _rollups(terms: Sequence[Term], key: str) -> Select[Any] | None:
    """The roll-up rows of ``terms`` with their bucket, signed: each grain's pieces
    read once (``reads``), joined to the buckets they count in."""
    found = reads(terms)
    if not found.uses:
        return None
    parts = []
    for name, segments in found.segments.items():
        grain = BY_NAME[name]
        table = grain.table
        column = f"{table.name}.{grain.name}"
        piece = step(column, [s.low for s in segments], [s.piece for s in segments])
        parts.append(
            select(
                piece.label("piece"),
                table.c[key].label("key"),
                table.c.currency,
                *(table.c[name] for name in FIGURE_COLUMNS),
            ).where(within(column, ((s.low, s.high) for s in segments)))
        )
    rows = union_all(*parts).subquery("rolled_up")
    uses = uses_table(found.uses)
    return select(
        uses.c.bucket,
        rows.c.key,
        rows.c.currency,
        *((rows.c[name] * uses.c.sign).label(name) for name in VALIDATION_COLUMNS),
        *((rows.c[name] * uses.c.sales_sign).label(name) for name in SALES_COLUMNS),
    ).select_from(rows.join(uses, uses.c.piece == rows.c.piece))


def _live(buckets: Buckets, first_hour: int, key: str) -> Select[Any]:
    """Sales not rolled up yet, from the ledger, with their bucket."""
    live = sales_by_hour(first_hour, buckets.end).subquery("live")
    bucket = step("live.hour", buckets.starts, range(len(buckets.starts)))
    zero = literal_column("0", BigInteger)
    return select(
        bucket.label("bucket"),
        live.c[key].label("key"),
        live.c.currency,
        *(zero.label(name) for name in VALIDATION_COLUMNS),
        *(live.c[name] for name in SALES_COLUMNS),
    )


def report_query(buckets: Buckets, group_by: GroupBy, until: datetime | None) -> Select[Any]:
    """Sums per bucket, group and currency: per bucket, roll-up key and currency,
    with codes joined to that (few rows) for their text; channels join the codes
    to the rows and sum per channel."""
    key = KEYS[group_by]
    found = sources(buckets, hour_of(until) if until is not None else None)
    rolled_up = _rollups(found.terms, key)
    parts = [] if rolled_up is None else [rolled_up]
    if found.live_from is not None:
        parts.append(_live(buckets, found.live_from, key))
    rows = union_all(*parts).subquery("rows")
    if group_by == "channel":
        # Straight into (bucket, currency, channel): a few hundred groups, where per
        # code first would be a hash table of 50,000 (a year by week) to sum again.
        joined = rows.join(codes, codes.c.id == rows.c.key)
        return (
            select(rows.c.bucket, rows.c.currency, codes.c.channel, *_sums(rows))
            .select_from(joined)
            .group_by(rows.c.bucket, rows.c.currency, codes.c.channel)
        )
    per_key = (
        select(rows.c.bucket, rows.c.key, rows.c.currency, *_sums(rows))
        .group_by(rows.c.bucket, rows.c.key, rows.c.currency)
        .subquery("per_key")
    )
    figures = [per_key.c[name] for name in FIGURE_COLUMNS]
    head = [per_key.c.bucket, per_key.c.currency]
    if group_by in ("campaign", "affiliate"):
        return select(*head, per_key.c.key.label(key), *figures)
    named = [codes.c.code, codes.c.campaign_id, codes.c.affiliate_id, codes.c.channel]
    joined = per_key.join(codes, codes.c.id == per_key.c.key)
    return select(*head, *named, *figures).select_from(joined)


def _sums(rows: Subquery) -> list[ColumnElement[Any]]:
    """The figures of ``rows`` summed, as the answer's (``_exact``)."""
    return [_exact(func.sum(rows.c[name])).label(name) for name in FIGURE_COLUMNS]


def _exact(total: ColumnElement[Any]) -> ColumnElement[Any]:
    """A sum as a bigint when a JSON client reads it exactly, else NULL (refused by
    ``_lines``): integers, where PostgreSQL's sums are numeric, which cost a
    Decimal each (a year by code has 96,000 of them)."""
    return case((func.abs(total) <= MAX_SAFE_INTEGER, total.cast(BigInteger)))


def _lines(result: Result[Any]) -> list[Line]:
    """The rows of ``report_query`` as lines; a year by code is 12,000 of them, so
    columns are taken by position, once each."""
    names = list(result.keys())
    first = names.index(FIGURE_COLUMNS[0])
    bucket, currency = names.index("bucket"), names.index("currency")
    group = [names.index(name) if name in names else None for name in GROUP_COLUMNS]
    lines = []
    for row in result:
        values: tuple[Any, ...] = row[first:]
        if None in values:  # beyond MAX_SAFE_INTEGER (_exact)
            raise Invalid(
                "total_out_of_range",
                f"a total in {row[currency]} exceeds {MAX_SAFE_INTEGER}, the largest number "
                "JSON clients read exactly; report a shorter period (from, to)",
            )
        # A group the terms only touched to take hours back: nothing of it is in
        # the period (every real row has a validation, a sale or a refund).
        if not any(values):
            continue
        campaign_id, affiliate_id, code, channel = (
            None if index is None else row[index] for index in group
        )
        lines.append(
            Line(
                bucket=int(row[bucket]),
                currency=row[currency],
                campaign_id=campaign_id,
                affiliate_id=affiliate_id,
                code=code,
                channel=channel,
                sums=dict(zip(FIGURE_COLUMNS, values, strict=True)),
            )
        )
    return lines


def _order(line: Line) -> tuple[Any, ...]:
    """Groups in key order (no group last), then currency, then time."""
    code, campaign, affiliate = line.code, line.campaign_id, line.affiliate_id
    channel = line.channel
    # Each value after whether it is missing (the default only ever meets itself).
    return (
        code is None,
        code or "",
        campaign is None,
        campaign or 0,
        affiliate is None,
        affiliate or 0,
        channel is None,
        channel or "",
        line.currency,
        line.bucket,
    )


async def performance(session: AsyncSession, buckets: Buckets, group_by: GroupBy) -> Report:
    """The report's lines, one per group, currency and bucket with anything in it,
    ordered by group, currency and bucket."""
    until = await sales_until(session)
    if dialect.is_postgres(session):
        await session.execute(TUNED)
    result = await session.execute(report_query(buckets, group_by, until))
    return Report(sales_until=until, lines=sorted(_lines(result), key=_order))
