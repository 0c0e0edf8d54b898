"""Accountants' payout pages: past payouts and their items, and a run (preview, then confirm).

The list and a payout's page are GET /v1/payouts and GET /v1/payouts/{id}
(``payout_page``, ``payout_detail``). A run is shown first as the API's
preview (``preview``, POST /v1/payouts/preview: what would be paid, nothing
written), and the preview's form carries a one-time Idempotency-Key drawn
when it is shown: confirming goes through ``pay``, the body of POST
/v1/payouts, so a second click (or a reload of the POST) replays the first
run's answer instead of paying again, and the run is audited as the API's.
"""

from __future__ import annotations

import secrets
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from promo.auth.roles import Role
from promo.console import forms
from promo.console.forms import Field
from promo.console.pages.ledger import MISSING_FIELDS, query
from promo.console.rendering import language_of, page
from promo.deps import Caller, ClockDep, DbSession
from promo.errors import DomainError, NotFound, problem_for
from promo.ids import Kind, decode
from promo.ledger import payout_routes
from promo.ledger import routes as ledger_routes
from promo.ledger.schemas import PayoutRun, PayoutRunResult
from promo.money import is_currency
from promo.schemas import encode_cursor

ACCOUNTANTS = {"roles": (Role.ACCOUNTANT,)}
PAGE_SIZE = 50
AS_OF = [Field("as_of", "instant")]


@get("/payouts", opt=ACCOUNTANTS)
async def payout_list(
    request: Request[Any, Any, Any],
    session: DbSession,
    affiliate_id: FromQuery[str | None] = None,
    currency: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
) -> Response[str]:
    form = {"affiliate_id": (affiliate_id or "").strip(), "currency": (currency or "").strip()}
    chosen = form["currency"].upper() or None
    try:
        if chosen is not None and not is_currency(chosen):
            raise forms.FormErrors({"currency": "must be an ISO 4217 code such as EUR"})
        payouts = await payout_routes.payout_page(
            session,
            affiliate_id=form["affiliate_id"] or None,
            currency=chosen,
            cursor=cursor,
            limit=PAGE_SIZE,
        )
    except DomainError as exc:
        errors = forms.errors_of(exc)
        if isinstance(exc, NotFound) and exc.code in MISSING_FIELDS:
            errors = {MISSING_FIELDS[exc.code]: exc.detail}
        return page(
            request,
            "payouts/list.html",
            status_code=problem_for(exc).status_code,
            payouts=[],
            form=form,
            errors=errors,
            next_url=None,
        )
    more = payouts.next_cursor
    return page(
        request,
        "payouts/list.html",
        payouts=payouts.items,
        form=form,
        next_url=f"/console/payouts?{query(form, cursor=more)}" if more else None,
    )


@get("/payouts/run", opt=ACCOUNTANTS)
async def payout_preview(
    request: Request[Any, Any, Any],
    session: DbSession,
    clock: ClockDep,
    as_of: FromQuery[str | None] = None,
) -> Response[str]:
    """The run form; with ``as_of``, what a run as of then would pay, and the
    confirm form (with its one-time key). Nothing is written."""
    now = clock()
    if as_of is None:
        return page(request, "payouts/run.html", form={"as_of": ""}, preview=None)
    form = {"as_of": as_of}
    try:
        if as_of.strip():
            document = forms.read(form, AS_OF, language=language_of(request))
            data = forms.convert(document, PayoutRun)
        else:
            data = PayoutRun(as_of=now)  # left blank: as of this very moment
        preview = await payout_routes.preview(session, data, now=now)
    except DomainError as exc:
        return page(
            request,
            "payouts/run.html",
            status_code=problem_for(exc).status_code,
            form=form,
            errors=forms.errors_of(exc),
            preview=None,
        )
    return page(
        request,
        "payouts/run.html",
        form=form,
        preview=preview,
        as_of_value=preview.as_of.isoformat(),
        idempotency_key=secrets.token_urlsafe(24),
    )


@post("/payouts/run", opt=ACCOUNTANTS)
async def payout_confirm(
    request: Request[Any, Any, Any], session: DbSession, clock: ClockDep, principal: Caller
) -> Response[Any]:
    """Run the payouts the preview showed, once per key: a replay pays nothing."""
    form = {key: str(value) for key, value in (await request.form()).items()}
    data = forms.convert(forms.read(form, AS_OF, language=language_of(request)), PayoutRun)
    answer = await ledger_routes.pay(
        session,
        data,
        principal=principal,
        idempotency_key=form.get("idempotency_key"),
        now=clock(),
    )
    if answer.status_code >= 400:
        # A refusal stored with the key: shown, not raised (it is committed with the key).
        problem = msgspec.json.decode(answer.body)
        return page(
            request,
            "error.html",
            status_code=answer.status_code,
            title=problem.get("title", "Error"),
            detail=problem.get("detail", ""),
            code=problem.get("code"),
            field_errors=problem.get("errors", []),
        )
    result = msgspec.json.decode(answer.body, type=PayoutRunResult)
    made = [decode(Kind.PAYOUT, payout.id) for payout in result.payouts]
    if not made:
        return Redirect("/console/payouts?notice=payout_none")
    # The list from the first payout of this run on: what it paid, first.
    first = min(payout_id for payout_id in made if payout_id is not None)
    return Redirect(f"/console/payouts?cursor={encode_cursor(first - 1)}&notice=payout_done")


@get("/payouts/{payout_id:str}", opt=ACCOUNTANTS)
async def payout_detail(
    request: Request[Any, Any, Any], session: DbSession, clock: ClockDep, payout_id: FromPath[str]
) -> Response[str]:
    payout = await payout_routes.payout_detail(session, payout_id, now=clock())
    return page(request, "payouts/detail.html", payout=payout)


HANDLERS: list[Any] = [payout_list, payout_preview, payout_confirm, payout_detail]
