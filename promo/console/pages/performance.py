"""A campaign's performance for marketers: totals, charts per day, top codes
and affiliates, over a period in the campaign's timezone.

Every figure comes from the performance report the API serves
(``promo.reports.routes.performance_of``): per day grouped by campaign for
the charts, per month grouped by code for the tops (a code's row names its
affiliate), kept to this campaign. Totals are the rows' sums and the
report's own formulas (``promo.reports.figures``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Request, Response, get
from litestar.params import FromPath, FromQuery

from promo.auth.roles import Role
from promo.campaigns import service as campaigns
from promo.campaigns.views import campaign_read
from promo.console import charts, forms
from promo.console.i18n import N_, Formats
from promo.console.rendering import language_of, page
from promo.deps import ClockDep, DbSession
from promo.errors import DomainError
from promo.ids import Kind, decode
from promo.reports import figures
from promo.reports.routes import performance_of
from promo.reports.schemas import PerformanceRow

MARKETERS = {"roles": (Role.MARKETER,)}
DEFAULT_DAYS = 30
TOP = 10
SUMMED = ("validations_valid", "redemptions", "revenue", "discount", "commission", "refunds")


def totals(rows: Iterable[PerformanceRow]) -> dict[str, Any]:
    sums = dict.fromkeys(SUMMED, 0)
    for row in rows:
        for name in SUMMED:
            sums[name] += getattr(row, name)
    net = figures.net_revenue(sums["revenue"], sums["refunds"])
    spent = figures.cost(sums["discount"], sums["commission"])
    return {
        **sums,
        "net_revenue": net,
        "cost_per_sale": figures.cost_per_sale(
            sums["discount"], sums["commission"], sums["redemptions"]
        ),
        "return_on_cost": figures.return_on_cost(net, spent),
        "rate_percent": _percent(figures.ratio(sums["redemptions"], sums["validations_valid"])),
    }


def _percent(ratio: str | None) -> Decimal | None:
    return None if ratio is None else Decimal(ratio) * 100


def _ranked(rows: list[PerformanceRow], key: str) -> list[dict[str, Any]]:
    groups: dict[Any, list[PerformanceRow]] = defaultdict(list)
    for row in rows:
        groups[getattr(row, key)].append(row)
    ranked = [{"key": name, **totals(found)} for name, found in groups.items()]
    ranked.sort(key=lambda line: (-line["redemptions"], -line["revenue"], str(line["key"])))
    return ranked[:TOP]


def _days(first: date, end: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((end - first).days)]


def _chart(
    title: str, days: list[date], by_day: dict[date, int], shown: Any, fmt: Formats
) -> charts.Chart:
    points = [(fmt.date(day), by_day.get(day, 0), shown(by_day.get(day, 0))) for day in days]
    largest = max((value for _, value, _ in points), default=0)
    return charts.bars(title, points, top_label=shown(largest))


@get("/campaigns/{campaign_id:str}/performance", opt=MARKETERS)
async def campaign_performance(
    request: Request[Any, Any, Any],
    campaign_id: FromPath[str],
    session: DbSession,
    clock: ClockDep,
    start: FromQuery[str | None] = None,
    end: FromQuery[str | None] = None,
) -> Response[str]:
    campaign = campaign_read(
        await campaigns.get_campaign(session, decode(Kind.CAMPAIGN, campaign_id))
    )
    tz = campaign.timezone or "UTC"
    today = clock().astimezone(ZoneInfo(tz)).date()
    start = start or (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
    end = end or (today + timedelta(days=1)).isoformat()
    shown = {"start": start, "end": end}
    try:
        daily = await performance_of(session, start, end, "campaign", "day", tz)
        by_code = await performance_of(session, start, end, "code", "month", tz)
        first, after = date.fromisoformat(start), date.fromisoformat(end)
    except DomainError as exc:
        errors = {
            {"from": "start", "to": "end"}.get(name, name): message
            for name, message in forms.errors_of(exc).items()
        }
        return page(
            request,
            "campaigns/performance.html",
            status_code=422,
            campaign=campaign,
            form=shown,
            errors=errors,
            summary=None,
        )
    except ValueError:
        return page(
            request,
            "campaigns/performance.html",
            status_code=422,
            campaign=campaign,
            form=shown,
            errors={"start": "use dates (YYYY-MM-DD) here"},
            summary=None,
        )
    mine = [row for row in daily.rows if row.campaign_id == campaign.id]
    codes = [row for row in by_code.rows if row.campaign_id == campaign.id]
    fmt = Formats(language_of(request))
    days = _days(first, after)[:400]

    def per_day(name: str) -> dict[date, int]:
        found: dict[date, int] = defaultdict(int)
        for row in mine:
            found[row.bucket] += getattr(row, name)
        return found

    def money(amount: int) -> str:
        return fmt.money(amount, campaign.currency)

    return page(
        request,
        "campaigns/performance.html",
        campaign=campaign,
        form=shown,
        summary=totals(mine),
        charts=[
            _chart(N_("Redemptions per day"), days, per_day("redemptions"), fmt.number, fmt),
            _chart(N_("Revenue per day"), days, per_day("revenue"), money, fmt),
            _chart(N_("Discount granted per day"), days, per_day("discount"), money, fmt),
        ],
        top_codes=_ranked(codes, "code"),
        top_affiliates=[line for line in _ranked(codes, "affiliate_id") if line["key"]],
        rolled_up_until=daily.sales_rolled_up_until,
    )


HANDLERS: list[Any] = [campaign_performance]
