"""Conversions in the console: marketers see them all and reject fake ones;
an affiliate sees its own (``/console/me/conversions``), through the same
functions as ``/v1/conversions`` and ``/v1/me/conversions``."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from promo.affiliates.service import own_affiliate_id
from promo.auth.roles import Role
from promo.console import forms
from promo.console.rendering import page
from promo.conversions import routes as conversion_routes
from promo.conversions.schemas import ConversionReject
from promo.deps import Caller, ClockDep, DbSession
from promo.ids import Kind, decode, require

MARKETERS = {"roles": (Role.MARKETER,)}
AFFILIATES = {"roles": (Role.AFFILIATE,)}
PAGE_SIZE = 50


@get("/conversions", opt=MARKETERS)
async def conversion_list(
    request: Request[Any, Any, Any],
    session: DbSession,
    clock: ClockDep,
    kind: FromQuery[str | None] = None,
    affiliate_id: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
) -> Template:
    chosen = decode(Kind.AFFILIATE, affiliate_id) if affiliate_id else None
    listing = await conversion_routes.page_of(
        session,
        affiliate_id=chosen if chosen is not None else (-1 if affiliate_id else None),
        kind=kind or None,
        external_id=None,
        cursor=cursor,
        limit=PAGE_SIZE,
        now=clock(),
    )
    filters = "".join(
        f"{name}={value}&"
        for name, value in (("kind", kind), ("affiliate_id", affiliate_id))
        if value
    )
    return page(
        request,
        "conversions/list.html",
        conversions=listing.items,
        filters={"kind": kind or "", "affiliate_id": affiliate_id or ""},
        next_url=f"/console/conversions?{filters}cursor={listing.next_cursor}"
        if listing.next_cursor
        else None,
    )


@post("/conversions/{conversion_id:str}/reject", opt=MARKETERS)
async def conversion_reject(
    request: Request[Any, Any, Any],
    conversion_id: FromPath[str],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
) -> Response[Any]:
    form = await forms.submitted(request)
    reason = form.get("reason", "").strip() or None
    await conversion_routes.reject(
        session,
        require(Kind.CONVERSION, conversion_id),
        ConversionReject(reason=reason[:500] if reason else None),
        principal=principal,
        now=clock(),
    )
    return Redirect("/console/conversions?notice=rejected")


@get("/me/conversions", opt=AFFILIATES)
async def my_conversion_list(
    request: Request[Any, Any, Any],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
    cursor: FromQuery[str | None] = None,
) -> Template:
    listing = await conversion_routes.page_of(
        session,
        affiliate_id=own_affiliate_id(principal),
        kind=None,
        external_id=None,
        cursor=cursor,
        limit=PAGE_SIZE,
        now=clock(),
    )
    return page(
        request,
        "me/conversions.html",
        conversions=listing.items,
        next_url=f"/console/me/conversions?cursor={listing.next_cursor}"
        if listing.next_cursor
        else None,
    )


HANDLERS: list[Any] = [conversion_list, conversion_reject, my_conversion_list]
