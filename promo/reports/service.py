"""The performance report: one statement over the roll-ups and, for what is not
rolled up yet, the ledger.

``promo.reports.buckets`` cuts the period into buckets (UTC hour ranges) and
says which roll-up rows make each (``Term``: units of ``report_months``,
``report_weeks``, ``report_days`` and ``report_hours``, added or subtracted);
before ``sales_until`` the roll-ups give every figure, after it only
validations, and the ledger the sales (``sales_by_hour``, the query the
roll-up itself stores). ``promo.reports.sql.reads`` turns the terms into
ranges of each table read once, numbered (``piece``: a balanced ``CASE`` over
the ranges' starts), and the buckets each piece counts in (``uses``). The
rows are summed per piece, group and currency, joined to their uses, and
summed per bucket, group and currency; a channel is the label of each row's
code (joined to the rows), a code's text and labels are joined at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import msgspec
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    FromClause,
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
}


# The group columns a line may have (each shape selects some), in sort order.
GROUP_COLUMNS = ("campaign_id", "affiliate_id", "code", "channel")


class Line(msgspec.Struct, frozen=True, gc=False):
    """One group, currency and bucket, with the sums of ``FIGURE_COLUMNS`` (not
    tracked by the collector: thousands of them, and no cycle through one)."""

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


def _keyed(rows: FromClause, group_by: GroupBy) -> tuple[ColumnElement[Any], FromClause]:
    """The group of each of ``rows`` (a roll-up table or the ledger's sales), and what
    to select them from: a channel is the label of the row's code, joined."""
    if group_by == "channel":
        return codes.c.channel, rows.join(codes, codes.c.id == rows.c.code_id)
    return rows.c[KEYS[group_by]], rows


def _rollups(terms: Sequence[Term], group_by: GroupBy) -> Select[Any] | None:
    """The roll-up rows of ``terms``, per bucket, group and currency: each grain's
    pieces read once (``reads``) and summed per piece, group and currency; the
    sums joined to the buckets they count in, signed. Rows go through one sum
    however many buckets count them (a New York week's first hours count in
    two), and the join and the sums after it see a row per piece and group."""
    found = reads(terms)
    if not found.uses:
        return None
    parts = []
    for name, segments in found.segments.items():
        grain = BY_NAME[name]
        table = grain.table
        column = f"{table.name}.{grain.name}"
        piece = step(column, [s.low for s in segments], [s.piece for s in segments])
        key, source = _keyed(table, group_by)
        parts.append(
            select(
                piece.label("piece"),
                key.label("key"),
                table.c.currency,
                *(table.c[name] for name in FIGURE_COLUMNS),
            )
            .select_from(source)
            .where(within(column, ((s.low, s.high) for s in segments)))
        )
    rows = union_all(*parts).subquery("rolled_up")
    per_piece = rows
    # Per code, a piece holds one row (an hour or two of it a few): nothing to gain.
    if group_by != "code":
        per_piece = (
            select(
                rows.c.piece,
                rows.c.key,
                rows.c.currency,
                # Bigints (no piece comes near 2**63): PostgreSQL sums those fast, and
                # would sum its numeric sums as numeric, several times slower.
                *(func.sum(rows.c[name]).cast(BigInteger).label(name) for name in FIGURE_COLUMNS),
            )
            .group_by(rows.c.piece, rows.c.key, rows.c.currency)
            .subquery("per_piece")
        )
    uses = uses_table(found.uses)
    return select(
        uses.c.bucket,
        per_piece.c.key,
        per_piece.c.currency,
        *((per_piece.c[name] * uses.c.sign).label(name) for name in VALIDATION_COLUMNS),
        *((per_piece.c[name] * uses.c.sales_sign).label(name) for name in SALES_COLUMNS),
    ).select_from(per_piece.join(uses, uses.c.piece == per_piece.c.piece))


def _live(buckets: Buckets, first_hour: int, group_by: GroupBy) -> Select[Any]:
    """Sales not rolled up yet, from the ledger, with their bucket."""
    live = sales_by_hour(first_hour, buckets.end).subquery("live")
    bucket = step("live.hour", buckets.starts, range(len(buckets.starts)))
    zero = literal_column("0", BigInteger)
    key, source = _keyed(live, group_by)
    return select(
        bucket.label("bucket"),
        key.label("key"),
        live.c.currency,
        *(zero.label(name) for name in VALIDATION_COLUMNS),
        *(live.c[name] for name in SALES_COLUMNS),
    ).select_from(source)


def report_query(buckets: Buckets, group_by: GroupBy, until: datetime | None) -> Select[Any]:
    """Sums per bucket, group and currency; codes are joined to those (few rows)
    for their text when grouping by code."""
    found = sources(buckets, hour_of(until) if until is not None else None)
    rolled_up = _rollups(found.terms, group_by)
    parts = [] if rolled_up is None else [rolled_up]
    if found.live_from is not None:
        parts.append(_live(buckets, found.live_from, group_by))
    rows = union_all(*parts).subquery("rows")
    name = "channel" if group_by == "channel" else KEYS[group_by]
    totals = select(rows.c.bucket, rows.c.currency, rows.c.key.label(name), *_sums(rows))
    totals = totals.group_by(rows.c.bucket, rows.c.key, rows.c.currency)
    if group_by != "code":
        return totals
    per_code = totals.subquery("per_code")
    named = [codes.c.code, codes.c.campaign_id, codes.c.affiliate_id, codes.c.channel]
    return select(
        per_code.c.bucket,
        per_code.c.currency,
        *named,
        *(per_code.c[name] for name in FIGURE_COLUMNS),
    ).select_from(per_code.join(codes, codes.c.id == per_code.c.code_id))


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
