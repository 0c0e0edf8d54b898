"""The affiliate's own pages: its codes (and asking for one), its sales, its earnings.

Only an affiliate's account opens them (``AFFILIATES``: not even an admin,
who is no affiliate). Every figure comes from the functions behind /v1/me
with the account as the caller (``principal``), so a page shows exactly what
the affiliate's API key is answered, scoped the same way: another
affiliate's code or payout is a 404 page, and no customer data is ever
loaded (the sales are ``AffiliateRedemption``). The sales chart is the
performance report's per-day figures (``promo.reports.service.performance``),
kept to the affiliate's own line.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from promo.affiliates.routes import open_campaigns
from promo.affiliates.service import own_affiliate_id
from promo.auth.roles import Principal, Role
from promo.checkout.routes import my_sales
from promo.codes import service as codes
from promo.codes.dedicated_routes import grant_own_code, my_codes, relabel_own_code
from promo.codes.routes import code_read
from promo.codes.schemas import DedicatedCodeCreate, MyCodePatch
from promo.console import charts, forms, i18n
from promo.console.forms import Field
from promo.console.rendering import language_of, page
from promo.deps import Caller, ClockDep, DbSession
from promo.errors import DomainError, problem_for
from promo.ids import Kind, encode
from promo.ledger.payout_routes import payout_detail, payout_page
from promo.ledger.routes import my_earnings_read
from promo.reports.routes import buckets_of
from promo.reports.service import performance

AFFILIATES = {"roles": (Role.AFFILIATE,)}
PAGE_SIZE = 50
CHART_DAYS = 30
GRANT_FIELDS = [Field("campaign_id"), Field("alias"), Field("channel")]
# Refusals of an alias that name no field: shown beside the alias field.
ALIAS_REFUSALS = ("alias_taken", "alias_limit_reached", "aliases_not_allowed")


async def _form_data(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in (await request.form()).items()}


def _refusal(exc: DomainError) -> tuple[int, dict[str, str]]:
    """The status the API answers ``exc`` with, and its messages by field."""
    errors = forms.errors_of(exc)
    if exc.code in ALIAS_REFUSALS and "" in errors:
        errors = {"alias": errors.pop("")} | errors
    return problem_for(exc).status_code, errors


# My codes


async def _codes_page(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    now: datetime,
    *,
    cursor: str | None = None,
    campaigns_cursor: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response[str]:
    mine = await my_codes(session, principal, campaign_id=None, cursor=cursor, limit=PAGE_SIZE)
    offered = await open_campaigns(
        session, principal, now=now, cursor=campaigns_cursor, limit=PAGE_SIZE
    )
    held: dict[str, list[str]] = defaultdict(list)
    for code in mine.items:
        held[code.campaign_id].append(code.code)
    return page(
        request,
        "me/codes.html",
        status_code=status_code,
        codes=mine.items,
        campaigns=offered.items,
        names={campaign.id: campaign.name for campaign in offered.items},
        held=held,
        next_url=f"/console/me/codes?cursor={mine.next_cursor}" if mine.next_cursor else None,
        campaigns_next_url=(
            f"/console/me/codes?campaigns_cursor={offered.next_cursor}"
            if offered.next_cursor
            else None
        ),
        **context,
    )


@get("/me/codes", opt=AFFILIATES)
async def my_codes_list(
    request: Request[Any, Any, Any],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
    cursor: FromQuery[str | None] = None,
    campaigns_cursor: FromQuery[str | None] = None,
) -> Response[str]:
    return await _codes_page(
        request, session, principal, clock(), cursor=cursor, campaigns_cursor=campaigns_cursor
    )


@post("/me/codes", opt=AFFILIATES)
async def my_code_grant(
    request: Request[Any, Any, Any],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
    state: State,
) -> Response[Any]:
    """The "Get a code" form: POST /v1/me/codes's own function (throttle, rules, audit)."""
    form = await _form_data(request)
    try:
        data = forms.convert(
            forms.read(form, GRANT_FIELDS, language=language_of(request)), DedicatedCodeCreate
        )
        # A refusal leaves nothing behind, as the API's rolled-back request does.
        async with session.begin_nested():
            answer = await grant_own_code(session, principal, data, state=state, clock=clock)
    except DomainError as exc:
        status, errors = _refusal(exc)
        return await _codes_page(
            request,
            session,
            principal,
            clock(),
            status_code=status,
            failed=form.get("campaign_id", ""),
            form=form,
            errors=errors,
        )
    granted = answer.content
    code = granted.alias or granted.code
    return Redirect(f"/console/me/codes/{quote(code.code, safe='')}?notice=code_ready")


async def _own_code(session: AsyncSession, principal: Principal, text: str) -> Any:
    return code_read(await codes.find_own_code(session, text, own_affiliate_id(principal)))


@get("/me/codes/{code:str}", opt=AFFILIATES)
async def my_code_detail(
    request: Request[Any, Any, Any], code: FromPath[str], session: DbSession, principal: Caller
) -> Response[str]:
    found = await _own_code(session, principal, code)
    return page(request, "me/code.html", code=found, form={"channel": found.channel or ""})


@post("/me/codes/{code:str}/channel", opt=AFFILIATES)
async def my_code_channel(
    request: Request[Any, Any, Any],
    code: FromPath[str],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
) -> Response[Any]:
    """The code's channel label: PATCH /v1/me/codes/{code}'s own function."""
    found = await _own_code(session, principal, code)
    form = await _form_data(request)
    try:
        data = forms.convert(
            forms.read(form, [Field("channel")], language=language_of(request), blank="null"),
            MyCodePatch,
        )
        relabelled = await relabel_own_code(session, principal, found.code, data, now=clock())
    except DomainError as exc:
        status, errors = _refusal(exc)
        return page(
            request, "me/code.html", status_code=status, code=found, form=form, errors=errors
        )
    return Redirect(f"/console/me/codes/{quote(relabelled.code, safe='')}?notice=saved")


# Sales


async def _sales_per_day(
    session: AsyncSession, principal: Principal, now: datetime
) -> list[tuple[Any, int, dict[str, int]]]:
    """The last ``CHART_DAYS`` UTC days (today included): each day's sales
    (redemptions) and revenue per currency, from the performance report's
    line of this affiliate."""
    affiliate = own_affiliate_id(principal)
    today = now.date()
    first = today - timedelta(days=CHART_DAYS - 1)
    buckets = buckets_of(first.isoformat(), (today + timedelta(days=1)).isoformat(), "day", "UTC")
    report = await performance(session, buckets, "affiliate")
    sales = [0] * len(buckets.labels)
    revenue: list[dict[str, int]] = [defaultdict(int) for _ in buckets.labels]
    for line in report.lines:
        if line.affiliate_id == affiliate:
            sales[line.bucket] += line.sums["redemptions"]
            revenue[line.bucket][line.currency] += line.sums["revenue"]
    return [(day, sales[index], dict(revenue[index])) for index, day in enumerate(buckets.labels)]


def _chart(days: list[tuple[Any, int, dict[str, int]]], language: str) -> charts.Chart:
    fmt = i18n.Formats(language)
    catalogue = i18n.translations(language)
    points = []
    for day, count, revenue in days:
        shown = catalogue.ngettext("%(num)s sale", "%(num)s sales", count) % {
            "num": fmt.number(count)
        }
        amounts = ", ".join(fmt.money(revenue[c], c) for c in sorted(revenue) if revenue[c])
        points.append((fmt.date(day), count, f"{shown} ({amounts})" if amounts else shown))
    largest = max((count for _, count, _ in days), default=0)
    return charts.bars(
        catalogue.gettext("Sales per day, last 30 days (UTC)"),
        points,
        top_label=fmt.number(largest),
    )


@get("/me/sales", opt=AFFILIATES)
async def my_sales_list(
    request: Request[Any, Any, Any],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
    cursor: FromQuery[str | None] = None,
) -> Response[str]:
    sold = await my_sales(session, principal, cursor=cursor, limit=PAGE_SIZE)
    days = await _sales_per_day(session, principal, clock())
    return page(
        request,
        "me/sales.html",
        sales=sold.items,
        chart=_chart(days, language_of(request)),
        next_url=f"/console/me/sales?cursor={sold.next_cursor}" if sold.next_cursor else None,
    )


# Earnings and payouts


@get("/me/earnings", opt=AFFILIATES)
async def my_earnings_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
    cursor: FromQuery[str | None] = None,
) -> Response[str]:
    earnings = await my_earnings_read(session, principal, now=clock())
    payouts = await payout_page(
        session,
        affiliate_id=encode(Kind.AFFILIATE, own_affiliate_id(principal)),
        currency=None,
        cursor=cursor,
        limit=PAGE_SIZE,
    )
    more = payouts.next_cursor
    return page(
        request,
        "me/earnings.html",
        earnings=earnings.earnings,
        payouts=payouts.items,
        next_url=f"/console/me/earnings?cursor={more}" if more else None,
    )


@get("/me/earnings/payouts/{payout_id:str}", opt=AFFILIATES)
async def my_payout(
    request: Request[Any, Any, Any],
    payout_id: FromPath[str],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
) -> Response[str]:
    payout = await payout_detail(
        session, payout_id, now=clock(), affiliate_id=own_affiliate_id(principal)
    )
    return page(request, "me/payout.html", payout=payout)


HANDLERS: list[Any] = [
    my_codes_list,
    my_code_grant,
    my_code_detail,
    my_code_channel,
    my_sales_list,
    my_earnings_page,
    my_payout,
]
