"""GET /v1/reports/performance (marketer): JSON or CSV."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from litestar import Response, get
from litestar.openapi import ResponseSpec
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from promo.auth.guards import allow
from promo.auth.roles import Role
from promo.deps import DbSession
from promo.errors import Invalid
from promo.ids import Kind, encode
from promo.reports import figures
from promo.reports.buckets import Bucket, BucketError, Buckets, day_start, plan, zone
from promo.reports.grains import instant_of
from promo.reports.render import render_csv
from promo.reports.schemas import Format, GroupBy, PerformanceReport, PerformanceRow
from promo.reports.service import Line, performance

BOUNDARY = (
    "an RFC 3339 instant on a whole UTC hour (2026-07-01T00:00:00+02:00), or a date "
    "(2026-07-01: its first instant in tz)"
)
Start = Annotated[
    str, QueryParameter(name="from", max_length=64, description=f"Included: {BOUNDARY}")
]
End = Annotated[str, QueryParameter(name="to", max_length=64, description=f"Excluded: {BOUNDARY}")]


def _boundary(field: str, value: str, tz: ZoneInfo) -> datetime:
    """``value`` as an aware instant; 422 naming ``field`` when it is neither form."""
    try:
        if len(value) == len("2026-07-01"):
            first = day_start(date.fromisoformat(value), tz)
            if first.minute or first.second:
                raise BucketError(
                    "tz",
                    f"{value} starts at {first.isoformat()} in {tz.key}, "
                    "not on a whole UTC hour: reports are rolled up per UTC hour",
                )
            return first
        parsed = datetime.fromisoformat(value)
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, BucketError):
            raise
        raise Invalid.field(field, "not an RFC 3339 instant or a date (YYYY-MM-DD)") from None
    if parsed.tzinfo is None:
        raise Invalid.field(field, "needs a UTC offset (e.g. 2026-07-01T00:00:00Z)")
    return parsed


def buckets_of(start: str, end: str, bucket: Bucket, tz_name: str) -> Buckets:
    """The request's buckets; 422 naming ``tz``, ``from`` or ``to`` when they cannot be."""
    try:
        tz = zone(tz_name)
        return plan(_boundary("from", start, tz), _boundary("to", end, tz), bucket, tz)
    except BucketError as exc:
        raise Invalid.field(exc.field, exc.message) from None


# A year by code is 12,000 rows naming the same 1,110 campaigns and affiliates.
_public_id = functools.lru_cache(maxsize=8192)(encode)
Span = tuple[date, datetime, datetime]


def rows_read(lines: list[Line], buckets: Buckets) -> list[PerformanceRow]:
    """The report's rows; each bucket's label and bounds are worked out once."""
    spans = [
        (label, instant_of(low), instant_of(high))
        for label, (low, high) in zip(
            buckets.labels, map(buckets.bounds, range(len(buckets.starts))), strict=True
        )
    ]
    return [row_read(line, spans[line.bucket]) for line in lines]


def row_read(line: Line, span: Span) -> PerformanceRow:
    sums = line.sums
    spent = figures.cost(sums["discount"], sums["commission"])
    net = figures.net_revenue(sums["revenue"], sums["refunds"])
    label, start, end = span
    return PerformanceRow(
        bucket=label,
        start=start,
        end=end,
        campaign_id=_public_id(Kind.CAMPAIGN, line.campaign_id) if line.campaign_id else None,
        affiliate_id=_public_id(Kind.AFFILIATE, line.affiliate_id) if line.affiliate_id else None,
        code=line.code,
        channel=line.channel,
        currency=line.currency,
        validations_tried=sums["validations_tried"],
        validations_valid=sums["validations_valid"],
        redemptions=sums["redemptions"],
        validation_to_redemption_rate=figures.ratio(sums["redemptions"], sums["validations_valid"]),
        revenue=sums["revenue"],
        discount=sums["discount"],
        commission=sums["commission"],
        refunds=sums["refunds"],
        refunds_count=sums["refunds_count"],
        net_revenue=net,
        cost_per_sale=figures.cost_per_sale(
            sums["discount"], sums["commission"], sums["redemptions"]
        ),
        return_on_cost=figures.return_on_cost(net, spent),
    )


async def performance_of(
    session: AsyncSession, start: str, end: str, group_by: GroupBy, bucket: Bucket, tz: str
) -> PerformanceReport:
    """The performance report of [start, end): the API's and the console's."""
    buckets = buckets_of(start, end, bucket, tz)
    report = await performance(session, buckets, group_by)
    return PerformanceReport(
        group_by=group_by,
        bucket=bucket,
        tz=tz,
        start=instant_of(buckets.starts[0]),
        end=instant_of(buckets.end),
        sales_rolled_up_until=(
            report.sales_until.astimezone(UTC) if report.sales_until is not None else None
        ),
        rows=rows_read(report.lines, buckets),
    )


@get(
    "/v1/reports/performance",
    tags=["reports"],
    guards=[allow(Role.MARKETER)],
    responses={
        200: ResponseSpec(
            PerformanceReport, description="The report (JSON or CSV)", generate_examples=False
        )
    },
)
async def performance_report(
    session: DbSession,
    start: Start,
    end: End,
    group_by: Annotated[GroupBy, QueryParameter()] = "campaign",
    bucket: Annotated[Bucket, QueryParameter()] = "day",
    tz: Annotated[str, QueryParameter(max_length=64, description="IANA time zone")] = "UTC",
    format: Annotated[Format, QueryParameter()] = "json",
) -> Response[Any]:
    """Per group (campaign, code, affiliate or channel), currency and calendar bucket
    (day, week or month in ``tz``) over [from, to): validations, redemptions and their
    rate, revenue, discount, commission, refunds, net revenue, cost per sale and return
    on cost. Sales are exact up to now; validations up to each worker's last flush."""
    body = await performance_of(session, start, end, group_by, bucket, tz)
    if format == "csv":
        return Response(
            render_csv(body.rows),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="performance.csv"'},
        )
    return Response(body)
