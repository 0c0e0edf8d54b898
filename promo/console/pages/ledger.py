"""Accountants' ledger pages: the ledger with its filters, its export, the commission report.

The filters are those of GET /v1/ledger (``from``, ``to``, ``affiliate_id``,
``campaign_id``, ``kind``), read by the API's own ``ledger_filters``; a page
is ``promo.ledger.routes.entry_page``, the download is the API's own
streamed export (``export_stream``: the same body and attachment as
GET /v1/ledger/export), and the report is ``report``, the body of
GET /v1/reports/commissions. What a person adds is only typing: an instant
without offset (a ``datetime-local`` field) is read as UTC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, get_args
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.params import FromQuery
from litestar.response import Stream

from promo.auth.roles import Role
from promo.console import forms
from promo.console.forms import Field
from promo.console.rendering import language_of, page
from promo.deps import ClockDep, DbSession
from promo.errors import DomainError, NotFound, problem_for
from promo.ledger import routes as ledger_routes
from promo.ledger import service
from promo.ledger.export import FORMATS
from promo.ledger.schemas import Kind as EntryKind
from promo.schemas import DEFAULT_LIMIT, MAX_LIMIT

ACCOUNTANTS = {"roles": (Role.ACCOUNTANT,)}
KINDS: tuple[str, ...] = get_args(EntryKind)
PERIOD = [Field("from", "instant"), Field("to", "instant")]
FILTERS = [*PERIOD, Field("affiliate_id"), Field("campaign_id"), Field("kind")]
# An id that names nothing is a refusal of the field that holds it.
MISSING_FIELDS = {"affiliate_not_found": "affiliate_id", "campaign_not_found": "campaign_id"}


def typed(request: Request[Any, Any, Any], fields: Sequence[Field]) -> dict[str, str]:
    """The filter form as the person filled it in (the query string)."""
    return {f.name: request.query_params.get(f.name, "").strip() for f in fields}


def read_filters(
    form: Mapping[str, str], fields: Sequence[Field], language: str
) -> service.Filters:
    """The API's filters from the form; a refusal names its field."""
    document = forms.read(form, fields, language=language)
    kind = document.get("kind")
    if kind is not None and kind not in KINDS:
        raise forms.FormErrors({"kind": f"must be one of {', '.join(KINDS)}"})
    try:
        return ledger_routes.ledger_filters(
            document.get("from"),
            document.get("to"),
            document.get("affiliate_id"),
            document.get("campaign_id"),
            kind,
        )
    except NotFound as exc:
        if exc.code in MISSING_FIELDS:
            raise forms.FormErrors({MISSING_FIELDS[exc.code]: exc.detail}) from None
        raise


def page_size(text: str | None) -> int:
    if not text:
        return DEFAULT_LIMIT
    try:
        size = int(text)
    except ValueError:
        size = 0
    if not 1 <= size <= MAX_LIMIT:
        raise forms.FormErrors({"limit": f"must be a whole number from 1 to {MAX_LIMIT}"})
    return size


def query(form: Mapping[str, str | None], **more: str | None) -> str:
    """The query string of ``form`` (blank fields left out) and ``more``."""
    pairs = {**form, **more}
    return urlencode({name: value for name, value in pairs.items() if value})


@get("/ledger", opt=ACCOUNTANTS)
async def ledger_list(
    request: Request[Any, Any, Any],
    session: DbSession,
    clock: ClockDep,
    cursor: FromQuery[str | None] = None,
    limit: FromQuery[str | None] = None,
) -> Response[str]:
    form = typed(request, FILTERS)
    shown = {**form, "limit": limit or ""}
    try:
        size = page_size(limit)
        filters = read_filters(form, FILTERS, language_of(request))
        entries = await ledger_routes.entry_page(
            session, filters, cursor=cursor, limit=size, now=clock()
        )
    except DomainError as exc:
        return page(
            request,
            "ledger/list.html",
            status_code=problem_for(exc).status_code,
            entries=[],
            kinds=KINDS,
            form=shown,
            errors=forms.errors_of(exc),
            next_url=None,
            export_query="",
        )
    kept = {**form, "limit": limit if size != DEFAULT_LIMIT else None}
    more = entries.next_cursor
    return page(
        request,
        "ledger/list.html",
        entries=entries.items,
        kinds=KINDS,
        form=shown,
        next_url=f"/console/ledger?{query(kept, cursor=more)}" if more else None,
        export_query=query(form),
    )


@get("/ledger/export", opt=ACCOUNTANTS)
async def ledger_export(
    request: Request[Any, Any, Any], state: State, format: FromQuery[str] = "csv"
) -> Stream:
    """Exactly what the ledger page shows for the same filters, streamed as
    GET /v1/ledger/export streams it."""
    if format not in FORMATS:
        raise forms.FormErrors({"format": f"must be one of {', '.join(FORMATS)}"})
    filters = read_filters(typed(request, FILTERS), FILTERS, language_of(request))
    return ledger_routes.export_stream(state.engine, filters, format)


@get("/commissions", opt=ACCOUNTANTS)
async def commissions(
    request: Request[Any, Any, Any], session: DbSession, clock: ClockDep
) -> Response[str]:
    form = typed(request, PERIOD)
    try:
        filters = read_filters(form, PERIOD, language_of(request))
        report = await ledger_routes.report(session, filters, now=clock())
    except DomainError as exc:
        return page(
            request,
            "ledger/commissions.html",
            status_code=problem_for(exc).status_code,
            rows=[],
            form=form,
            errors=forms.errors_of(exc),
            period_query="",
        )
    return page(
        request, "ledger/commissions.html", rows=report.rows, form=form, period_query=query(form)
    )


HANDLERS: list[Any] = [ledger_list, ledger_export, commissions]
