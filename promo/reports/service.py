"""The performance report: one statement over the roll-ups and, for what is not
rolled up yet, the ledger.

``promo.reports.buckets`` cuts the period into buckets (UTC hour ranges) and
says which roll-up rows make each (``Term``: days of ``report_days``, hours
of ``report_hours`` added or subtracted); before ``sales_until`` the roll-ups
give every figure, after it only validations, and the ledger the sales
(``sales_by_hour``, the query the roll-up itself stores). The rows of all
sources are mapped to their bucket in SQL (a balanced ``CASE`` over the
terms' starts, written as integer literals), summed per bucket, roll-up key
and currency, and then per group (codes joined for their text or channel).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import msgspec
from sqlalchemy import (
    BigInteger,
    Boolean,
    Integer,
    Select,
    Table,
    func,
    literal_column,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from promo.codes.models import Code
from promo.db import dialect
from promo.errors import Invalid
from promo.money import MAX_SAFE_INTEGER, is_json_safe
from promo.reports.buckets import Buckets, Term, hour_of, sources
from promo.reports.models import FIGURE_COLUMNS, SALES_COLUMNS, VALIDATION_COLUMNS
from promo.reports.rollup import days, hours, sales_by_hour, sales_until
from promo.reports.schemas import GroupBy

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


# The bucket of a row and the ranges it is read from are written as SQL text
# of integer literals the service computed and a column of its own tables:
# nothing a client sent. Building them as SQLAlchemy expressions cost ~0.4 s
# of compilation for a report of 1,000 buckets (thousands of CASE branches).


def step(column: str, lows: Sequence[int], results: Sequence[int]) -> ColumnElement[int]:
    """``results[i]`` for the last ``lows[i] <= column`` (``lows`` increasing), as
    nested ``CASE`` halving the list: about log2(len) comparisons a row."""

    def half(first: int, end: int) -> str:
        if end - first == 1:
            return str(int(results[first]))
        middle = (first + end) // 2
        return (
            f"CASE WHEN {column} < {int(lows[middle])} THEN {half(first, middle)} "
            f"ELSE {half(middle, end)} END"
        )

    return literal_column(half(0, len(lows)), Integer)


def _within(column: str, terms: Sequence[Term]) -> ColumnElement[bool]:
    """``column`` in any of the terms' ranges (adjacent ranges joined)."""
    ranges: list[tuple[int, int]] = []
    for term in terms:
        if ranges and ranges[-1][1] == term.low:
            ranges[-1] = (ranges[-1][0], term.high)
        else:
            ranges.append((term.low, term.high))
    condition = " OR ".join(
        f"({column} >= {int(low)} AND {column} < {int(high)})" for low, high in ranges
    )
    return literal_column(f"({condition})", Boolean)


def _figures(table: Any, *, sign: int, sales: bool, validations: bool = True) -> list[Any]:
    zero = literal_column("0", BigInteger)

    def figure(name: str, wanted: bool) -> Any:
        if not wanted:
            return zero.label(name)
        return (table.c[name] if sign > 0 else -table.c[name]).label(name)

    return [figure(name, validations) for name in VALIDATION_COLUMNS] + [
        figure(name, sales) for name in SALES_COLUMNS
    ]


def _rollups(terms: Sequence[Term], key: str) -> list[Select[Any]]:
    """The roll-up rows of ``terms``, signed, with their bucket: one SELECT per
    grain, sign and kind of figures."""
    groups: dict[tuple[str, int, bool], list[Term]] = defaultdict(list)
    for term in terms:
        groups[(term.grain, term.sign, term.sales)].append(term)
    parts = []
    for (grain, sign, sales), members in sorted(groups.items()):
        members.sort(key=lambda term: term.low)
        if any(a.high > b.low for a, b in itertools.pairwise(members)):
            raise AssertionError(f"overlapping {grain} terms: {members}")
        table = days if grain == "day" else hours
        column = f"{table.name}.{grain}"
        bucket = step(column, [t.low for t in members], [t.bucket for t in members])
        parts.append(
            select(
                bucket.label("bucket"),
                table.c[key].label("key"),
                table.c.currency,
                *_figures(table, sign=sign, sales=sales),
            ).where(_within(column, members))
        )
    return parts


def _live(buckets: Buckets, first_hour: int, key: str) -> Select[Any]:
    """Sales not rolled up yet, from the ledger, with their bucket."""
    live = sales_by_hour(first_hour, buckets.end).subquery("live")
    bucket = step("live.hour", buckets.starts, range(len(buckets.starts)))
    return select(
        bucket.label("bucket"),
        live.c[key].label("key"),
        live.c.currency,
        *_figures(live, sign=1, sales=True, validations=False),
    )


def report_query(buckets: Buckets, group_by: GroupBy, until: datetime | None) -> Select[Any]:
    """Sums per bucket, group and currency. Rows are summed per bucket, roll-up
    key and currency first; codes are joined to that (few rows), for their text
    or channel."""
    key = KEYS[group_by]
    found = sources(buckets, hour_of(until) if until is not None else None)
    parts = _rollups(found.terms, key)
    if found.live_from is not None:
        parts.append(_live(buckets, found.live_from, key))
    rows = union_all(*parts).subquery("rows")
    per_key = (
        select(
            rows.c.bucket,
            rows.c.key,
            rows.c.currency,
            *(func.sum(rows.c[name]).label(name) for name in FIGURE_COLUMNS),
        )
        .group_by(rows.c.bucket, rows.c.key, rows.c.currency)
        .subquery("per_key")
    )
    figures = [per_key.c[name] for name in FIGURE_COLUMNS]
    head = [per_key.c.bucket, per_key.c.currency]
    if group_by in ("campaign", "affiliate"):
        return select(*head, per_key.c.key.label(key), *figures)
    joined = per_key.join(codes, codes.c.id == per_key.c.key)
    if group_by == "code":
        named = [codes.c.code, codes.c.campaign_id, codes.c.affiliate_id, codes.c.channel]
        return select(*head, *named, *figures).select_from(joined)
    return (
        select(*head, codes.c.channel, *(func.sum(f).label(f.name) for f in figures))
        .select_from(joined)
        .group_by(*head, codes.c.channel)
    )


def _sums(row: Any) -> dict[str, int]:
    # PostgreSQL sums bigints as numeric (Decimal); the figures are integers.
    values = {name: int(cast(int | Decimal, getattr(row, name))) for name in FIGURE_COLUMNS}
    if not all(is_json_safe(value) for value in values.values()):
        raise Invalid(
            "total_out_of_range",
            f"a total in {row.currency} exceeds {MAX_SAFE_INTEGER}, the largest number "
            "JSON clients read exactly; report a shorter period (from, to)",
        )
    return values


def _order(line: Line) -> tuple[Any, ...]:
    """Groups in key order (no group last), then currency, then time."""
    group = (line.code, line.campaign_id, line.affiliate_id, line.channel)
    return (*((value is None, value) for value in group), line.currency, line.bucket)


async def performance(session: AsyncSession, buckets: Buckets, group_by: GroupBy) -> Report:
    """The report's lines, one per group, currency and bucket with anything in it,
    ordered by group, currency and bucket."""
    until = await sales_until(session)
    if dialect.is_postgres(session):
        await session.execute(TUNED)
    result = await session.execute(report_query(buckets, group_by, until))
    lines = [
        Line(
            bucket=int(row.bucket),
            currency=row.currency,
            campaign_id=getattr(row, "campaign_id", None),
            affiliate_id=getattr(row, "affiliate_id", None),
            code=getattr(row, "code", None),
            channel=getattr(row, "channel", None),
            sums=_sums(row),
        )
        for row in result
        # A group the terms only touched to take hours back: nothing of it is in
        # the period (every real row has a validation, a sale or a refund).
        if any(getattr(row, name) for name in FIGURE_COLUMNS)
    ]
    return Report(sales_until=until, lines=sorted(lines, key=_order))
