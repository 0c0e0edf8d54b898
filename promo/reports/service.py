"""The performance report: one statement over the roll-ups and, for what is not
rolled up yet, the ledger.

``promo.reports.buckets`` cuts the period into buckets (UTC hour ranges) and
says which UTC days lie inside one bucket (read from ``report_days``) and
which hours do not (``report_hours``: the edges of buckets that do not start
at midnight UTC); before ``sales_until`` the roll-ups give every figure,
after it only validations, and the ledger the sales (``sales_by_hour``, the
query the roll-up itself stores). The rows of all sources are mapped to
their bucket in SQL (a balanced ``CASE`` over the bucket starts, written as
integer literals) and summed once per group, currency and bucket.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import msgspec
from sqlalchemy import (
    BigInteger,
    Integer,
    Select,
    Table,
    and_,
    case,
    func,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from promo.codes.models import Code
from promo.errors import Invalid
from promo.money import MAX_SAFE_INTEGER, is_json_safe
from promo.reports.buckets import HOURS_PER_DAY, Buckets, Cover, Ranges, hour_of, sources
from promo.reports.models import FIGURE_COLUMNS, SALES_COLUMNS, VALIDATION_COLUMNS
from promo.reports.rollup import days, hours, sales_by_hour, sales_until
from promo.reports.schemas import GroupBy

codes = cast(Table, Code.__table__)
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


def _int(value: int) -> ColumnElement[int]:
    """An integer the service computed, written into the SQL."""
    return literal_column(str(int(value)), Integer)


def bucket_case(value: ColumnElement[int], starts: Sequence[int]) -> ColumnElement[int]:
    """The index of the bucket ``value`` falls in (the last start at or before it),
    as nested ``CASE`` halving ``starts``: about log2(buckets) comparisons a row."""

    def half(low: int, high: int) -> ColumnElement[int]:
        if high - low == 1:
            return _int(low)
        middle = (low + high) // 2
        return case((value < _int(starts[middle]), half(low, middle)), else_=half(middle, high))

    return half(0, len(starts))


def _within(column: ColumnElement[int], ranges: Ranges) -> ColumnElement[bool]:
    return or_(*(and_(column >= _int(low), column < _int(high)) for low, high in ranges))


def _figures(table: Any, *, validations: bool, sales: bool) -> list[ColumnElement[Any]]:
    zero = literal_column("0", BigInteger)
    return [(table.c[name] if validations else zero).label(name) for name in VALIDATION_COLUMNS] + [
        (table.c[name] if sales else zero).label(name) for name in SALES_COLUMNS
    ]


def _rollups(cover: Cover, buckets: Buckets, key: str, *, sales: bool) -> list[Select[Any]]:
    """The roll-up rows of ``cover``, with their bucket; sales zero unless ``sales``."""
    day_starts = [-(-start // HOURS_PER_DAY) for start in buckets.starts]
    parts = []
    for table, grain, ranges, starts in (
        (days, "day", cover.days, day_starts),
        (hours, "hour", cover.hours, list(buckets.starts)),
    ):
        if ranges:
            parts.append(
                select(
                    bucket_case(table.c[grain], starts).label("bucket"),
                    table.c[key].label("key"),
                    table.c.currency,
                    *_figures(table, validations=True, sales=sales),
                ).where(_within(table.c[grain], ranges))
            )
    return parts


def _live(buckets: Buckets, first_hour: int, key: str) -> Select[Any]:
    """Sales not rolled up yet, from the ledger, with their bucket."""
    live = sales_by_hour(first_hour, buckets.end).subquery("live")
    return select(
        bucket_case(live.c.hour, buckets.starts).label("bucket"),
        live.c[key].label("key"),
        live.c.currency,
        *_figures(live, validations=False, sales=True),
    )


def report_query(buckets: Buckets, group_by: GroupBy, until: datetime | None) -> Select[Any]:
    key = KEYS[group_by]
    split = sources(buckets, hour_of(until) if until is not None else None)
    parts = _rollups(split.rolled, buckets, key, sales=True)
    parts += _rollups(split.counted, buckets, key, sales=False)
    if split.live_from is not None:
        parts.append(_live(buckets, split.live_from, key))
    rows = union_all(*parts).subquery("rows")
    sums = [func.sum(rows.c[name]).label(name) for name in FIGURE_COLUMNS]
    if group_by == "campaign":
        groups: list[ColumnElement[Any]] = [rows.c.key.label("campaign_id")]
    elif group_by == "affiliate":
        groups = [rows.c.key.label("affiliate_id")]
    elif group_by == "code":
        groups = [rows.c.key, codes.c.code, codes.c.campaign_id, codes.c.affiliate_id]
        groups.append(codes.c.channel)
    else:
        groups = [codes.c.channel]
    query = select(rows.c.bucket, rows.c.currency, *groups, *sums)
    if key == "code_id":
        query = query.select_from(rows.join(codes, codes.c.id == rows.c.key))
    return query.group_by(rows.c.bucket, rows.c.currency, *groups)


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
    ]
    return Report(sales_until=until, lines=sorted(lines, key=_order))
