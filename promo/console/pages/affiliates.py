"""Marketers' affiliates: the list, create, edit the commission plan and payout
terms, deactivate, their codes, and an invitation to the console.

Create and edit fill the API's ``AffiliateCreate``/``AffiliatePatch`` and go
through ``promo.affiliates.routes.create``/``change`` like POST and PATCH
/v1/affiliates. Payout thresholds are typed one per line, ``EUR 50.00``.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from promo.affiliates import routes as affiliate_routes
from promo.affiliates import service
from promo.affiliates.routes import affiliate_read
from promo.affiliates.schemas import AffiliateCreate, AffiliatePatch, AffiliateRead
from promo.auth.roles import Role
from promo.codes import dedicated
from promo.codes.routes import code_read
from promo.console import forms, i18n
from promo.console.forms import Field
from promo.console.pages.plans import plan_options
from promo.console.rendering import language_of, page
from promo.deps import Caller, ClockDep, DbSession
from promo.errors import DomainError
from promo.ids import Kind, require
from promo.schemas import decode_cursor, next_cursor

MARKETERS = {"roles": (Role.MARKETER,)}
PAGE_SIZE = 50
FIELDS = [
    Field("name"),
    Field("email"),
    Field("commission.percent", "decimal"),
    Field("commission.fixed", "integer"),
    Field("commission.plan_id"),
    Field("holding_days", "integer"),
]


def thresholds(text: str, language: str) -> dict[str, int]:
    """``EUR 50.00`` per line as ``{"EUR": 5000}``; a line that cannot be read
    is refused by field."""
    found = forms.pairs(
        text,
        "payout_thresholds",
        lambda currency, amount: i18n.minor_units(amount, currency.upper(), language),
    )
    return {currency.upper(): amount for currency, amount in found.items()}


def _document(form: dict[str, str], language: str, *, editing: bool) -> dict[str, Any]:
    document = forms.read(form, FIELDS, language=language)
    commission = document.pop("commission", None)
    if commission:
        document["commission"] = commission
    elif editing:
        document["commission"] = None  # back to the campaigns' default commissions
    document["payout_thresholds"] = thresholds(form.get("payout_thresholds", ""), language)
    if not editing:
        document["create_key"] = form.get("create_key") == "on"
    return document


def form_of(affiliate: AffiliateRead, language: str) -> dict[str, str]:
    commission = affiliate.commission
    return {
        "name": affiliate.name,
        "email": affiliate.email,
        "commission.percent": i18n.decimal_text(
            commission.percent if commission else None, language
        ),
        "commission.fixed": str(commission.fixed) if commission and commission.fixed else "",
        "commission.plan_id": commission.plan_id or "" if commission else "",
        "holding_days": str(affiliate.holding_days),
        "payout_thresholds": "\n".join(
            f"{currency} {i18n.amount_text(amount, currency, language)}"
            for currency, amount in sorted(affiliate.payout_thresholds.items())
        ),
    }


@get("/affiliates", opt=MARKETERS)
async def affiliate_list(
    request: Request[Any, Any, Any],
    session: DbSession,
    active: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
) -> Template:
    chosen = {"yes": True, "no": False}.get(active or "")
    rows = await service.list_affiliates(
        session, active=chosen, after_id=decode_cursor(cursor), limit=PAGE_SIZE
    )
    more = next_cursor([a.id for a in rows], PAGE_SIZE)
    query = f"active={active}&" if chosen is not None else ""
    return page(
        request,
        "affiliates/list.html",
        affiliates=[affiliate_read(a) for a in rows],
        active=active if chosen is not None else "",
        next_url=f"/console/affiliates?{query}cursor={more}" if more else None,
        form={"holding_days": "30"},
        plan_options=await plan_options(session),
    )


@post("/affiliates", opt=MARKETERS)
async def affiliate_create(
    request: Request[Any, Any, Any], session: DbSession, clock: ClockDep, principal: Caller
) -> Response[Any]:
    form = await forms.submitted(request)
    try:
        data = forms.convert(_document(form, language_of(request), editing=False), AffiliateCreate)
        created = await affiliate_routes.create(session, data, principal=principal, now=clock())
    except DomainError as exc:
        rows = await service.list_affiliates(session, active=None, after_id=None, limit=PAGE_SIZE)
        return page(
            request,
            "affiliates/list.html",
            status_code=422,
            affiliates=[affiliate_read(a) for a in rows],
            active="",
            next_url=None,
            form=form,
            errors=forms.errors_of(exc),
            plan_options=await plan_options(session),
        )
    if created.key is not None:
        # The key is shown on this answer only: never in a URL, never again.
        affiliate = await service.get_affiliate(session, require(Kind.AFFILIATE, created.id))
        return await _detail(request, session, affiliate_read(affiliate), key=created.key)
    return Redirect(f"/console/affiliates/{created.id}?notice=created")


async def _detail(
    request: Request[Any, Any, Any],
    session: DbSession,
    affiliate: AffiliateRead,
    *,
    status_code: int = 200,
    **context: Any,
) -> Template:
    codes = await dedicated.list_affiliate_codes(
        session, require(Kind.AFFILIATE, affiliate.id), campaign_id=None, after_id=None, limit=200
    )
    context.setdefault("form", form_of(affiliate, language_of(request)))
    return page(
        request,
        "affiliates/detail.html",
        status_code=status_code,
        affiliate=affiliate,
        codes=[code_read(c) for c in codes],
        plan_options=await plan_options(session),
        **context,
    )


@get("/affiliates/{affiliate_id:str}", opt=MARKETERS)
async def affiliate_detail(
    request: Request[Any, Any, Any], affiliate_id: FromPath[str], session: DbSession
) -> Template:
    affiliate = await service.get_affiliate(session, require(Kind.AFFILIATE, affiliate_id))
    return await _detail(request, session, affiliate_read(affiliate))


@post("/affiliates/{affiliate_id:str}", opt=MARKETERS)
async def affiliate_update(
    request: Request[Any, Any, Any],
    affiliate_id: FromPath[str],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
) -> Response[Any]:
    form = await forms.submitted(request)
    target = require(Kind.AFFILIATE, affiliate_id)
    try:
        data = forms.convert(_document(form, language_of(request), editing=True), AffiliatePatch)
        await affiliate_routes.change(session, target, data, principal=principal, now=clock())
    except DomainError as exc:
        affiliate = affiliate_read(await service.get_affiliate(session, target))
        return await _detail(
            request, session, affiliate, status_code=422, form=form, errors=forms.errors_of(exc)
        )
    return Redirect(f"/console/affiliates/{affiliate_id}?notice=saved")


@post("/affiliates/{affiliate_id:str}/active", opt=MARKETERS)
async def affiliate_active(
    request: Request[Any, Any, Any],
    affiliate_id: FromPath[str],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
) -> Response[Any]:
    form = await forms.submitted(request)
    active = form.get("active") == "true"
    await affiliate_routes.change(
        session,
        require(Kind.AFFILIATE, affiliate_id),
        AffiliatePatch(active=active),
        principal=principal,
        now=clock(),
    )
    return Redirect(
        f"/console/affiliates/{affiliate_id}?notice={'saved' if active else 'disabled'}"
    )


HANDLERS: list[Any] = [
    affiliate_list,
    affiliate_create,
    affiliate_detail,
    affiliate_update,
    affiliate_active,
]
