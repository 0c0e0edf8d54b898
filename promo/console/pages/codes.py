"""Marketers' codes: a campaign's codes (search, create a vanity code, disable)
and its pattern batches (start, follow, download, disable), including batches
issued to an uploaded list of customers (one bound code each, and a download
of the customers as given with their codes while the list is kept).

Each action goes through the function the API's route calls
(``promo.codes.routes.create``/``change``, ``promo.codes.batch_routes.start``/
``set_active``/``codes_csv``). A large batch runs as a job; its page shows a
progress bar that the page's script moves by polling ``/progress``, and that
a reload moves without script.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State, UploadFile
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Stream, Template

from promo.auth.roles import Role
from promo.campaigns import service as campaigns
from promo.campaigns.views import campaign_read
from promo.codes import batch_routes, batches, service
from promo.codes import routes as code_routes
from promo.codes.batch_schemas import CodeBatchCreate
from promo.codes.batch_views import batch_read
from promo.codes.schemas import CodeCreate, CodePatch
from promo.console import forms
from promo.console.forms import Field
from promo.console.rendering import language_of, page
from promo.deps import Caller, ClockDep, DbSession, KeyringDep
from promo.errors import DomainError, NotFound
from promo.ids import Kind, decode, encode
from promo.jobs.inprocess import AppJobs
from promo.schemas import decode_cursor, next_cursor

MARKETERS = {"roles": (Role.MARKETER,)}
PAGE_SIZE = 50
CODE_FIELDS = [
    Field("code"),
    Field("max_redemptions", "integer"),
    Field("affiliate_id"),
    Field("channel"),
    Field("starts_at", "instant"),
    Field("expires_at", "instant"),
    Field("customer_id"),
    Field("customer_email"),
]
VALIDITY_FIELDS = [Field("starts_at", "instant"), Field("expires_at", "instant")]
BATCH_FIELDS = [
    Field("count", "integer"),
    Field("pattern"),
    Field("charset"),
    Field("max_redemptions_per_code", "integer"),
    Field("affiliate_id"),
    Field("valid_for"),
    Field("expires_at", "instant"),
]
# Who a code is for is never shown back, not even in a form sent back with an error.
CUSTOMER_FIELDS = ("customer_id", "customer_email")
FINISHED = ("done", "failed")


async def _codes_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    campaign_id: str,
    *,
    q: str | None = None,
    cursor: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> Template:
    campaign = campaign_read(
        await campaigns.get_campaign(session, decode(Kind.CAMPAIGN, campaign_id))
    )
    found: list[Any] = []
    searched = (q or "").strip()
    if searched:
        try:
            code = await service.find_code(session, searched)
        except NotFound:
            code = None
        found = (
            [code]
            if code is not None and encode(Kind.CAMPAIGN, code.campaign_id) == campaign.id
            else []
        )
        rows, more = found, None
    else:
        rows = await service.list_codes(
            session,
            decode(Kind.CAMPAIGN, campaign_id) or 0,
            affiliate_id=None,
            after_id=decode_cursor(cursor),
            limit=PAGE_SIZE,
        )
        more = next_cursor([c.id for c in rows], PAGE_SIZE)
    context.setdefault("validity", {})
    context.setdefault("validity_errors", {})
    return page(
        request,
        "codes/list.html",
        status_code=status_code,
        campaign=campaign,
        codes=[code_routes.code_read(c) for c in rows],
        q=searched,
        next_url=f"/console/campaigns/{campaign.id}/codes?cursor={more}" if more else None,
        **context,
    )


@get("/campaigns/{campaign_id:str}/codes", opt=MARKETERS)
async def code_list(
    request: Request[Any, Any, Any],
    campaign_id: FromPath[str],
    session: DbSession,
    q: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
) -> Template:
    return await _codes_page(request, session, campaign_id, q=q, cursor=cursor)


@post("/campaigns/{campaign_id:str}/codes", opt=MARKETERS)
async def code_create(
    request: Request[Any, Any, Any],
    campaign_id: FromPath[str],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
    keyring: KeyringDep,
) -> Response[Any]:
    form = await forms.submitted(request)
    zone = await _timezone(session, campaign_id)
    try:
        data = forms.convert(
            forms.read(form, CODE_FIELDS, language=language_of(request), timezone=zone),
            CodeCreate,
        )
        created = await code_routes.create(
            session,
            decode(Kind.CAMPAIGN, campaign_id),
            data,
            principal=principal,
            keyring=keyring,
            now=clock(),
        )
    except DomainError as exc:
        kept = {name: value for name, value in form.items() if name not in CUSTOMER_FIELDS}
        return await _codes_page(
            request, session, campaign_id, status_code=422, form=kept, errors=forms.errors_of(exc)
        )
    return Redirect(
        f"/console/campaigns/{created.campaign_id}/codes?notice=created&q={created.code}"
    )


async def _timezone(session: DbSession, campaign_id: str) -> str | None:
    """The campaign's timezone, in which its pages' dates and times are typed."""
    campaign = await campaigns.get_campaign(session, decode(Kind.CAMPAIGN, campaign_id))
    return campaign.timezone


@post("/campaigns/{campaign_id:str}/codes/validity", opt=MARKETERS)
async def code_validity(
    request: Request[Any, Any, Any],
    campaign_id: FromPath[str],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
) -> Response[Any]:
    """Change one code's own window (a blank date: the campaign's)."""
    form = await forms.submitted(request)
    zone = await _timezone(session, campaign_id)
    text = form.get("code", "").strip()
    try:
        data = forms.convert(
            forms.read(
                form, VALIDITY_FIELDS, language=language_of(request), timezone=zone, blank="null"
            ),
            CodePatch,
        )
        changed = await code_routes.change(session, text, data, principal=principal, now=clock())
    except DomainError as exc:
        errors = forms.errors_of(exc)
        if "" in errors:  # the code itself (none spelled so): shown beside its field
            errors["code"] = errors.pop("")
        return await _codes_page(
            request,
            session,
            campaign_id,
            status_code=404 if isinstance(exc, NotFound) else 422,
            validity=form,
            validity_errors=errors,
        )
    return Redirect(f"/console/campaigns/{changed.campaign_id}/codes?notice=saved&q={changed.code}")


@post("/codes/{code:str}/active", opt=MARKETERS)
async def code_active(
    request: Request[Any, Any, Any],
    code: FromPath[str],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
) -> Response[Any]:
    form = await forms.submitted(request)
    active = form.get("active") == "true"
    changed = await code_routes.change(
        session, code, CodePatch(active=active), principal=principal, now=clock()
    )
    notice = "saved" if active else "disabled"
    return Redirect(
        f"/console/campaigns/{changed.campaign_id}/codes?notice={notice}&q={changed.code}"
    )


async def _batches_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    campaign_id: str,
    *,
    cursor: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> Template:
    campaign = campaign_read(
        await campaigns.get_campaign(session, decode(Kind.CAMPAIGN, campaign_id))
    )
    rows = await batches.list_batches(
        session,
        decode(Kind.CAMPAIGN, campaign_id) or 0,
        after_id=decode_cursor(cursor),
        limit=PAGE_SIZE,
    )
    more = next_cursor([b.id for b in rows], PAGE_SIZE)
    context.setdefault("form", {"charset": "safe", "max_redemptions_per_code": "1"})
    context.setdefault("issue", {"charset": "safe", "max_redemptions_per_code": "1"})
    context.setdefault("issue_errors", {})
    return page(
        request,
        "codes/batches.html",
        status_code=status_code,
        campaign=campaign,
        batches=[batch_read(b) for b in rows],
        next_url=f"/console/campaigns/{campaign.id}/batches?cursor={more}" if more else None,
        **context,
    )


@get("/campaigns/{campaign_id:str}/batches", opt=MARKETERS)
async def batch_list(
    request: Request[Any, Any, Any],
    campaign_id: FromPath[str],
    session: DbSession,
    cursor: FromQuery[str | None] = None,
) -> Template:
    return await _batches_page(request, session, campaign_id, cursor=cursor)


@post("/campaigns/{campaign_id:str}/batches", opt=MARKETERS)
async def batch_start(
    request: Request[Any, Any, Any],
    campaign_id: FromPath[str],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
    state: State,
) -> Response[Any]:
    form = await forms.submitted(request)
    zone = await _timezone(session, campaign_id)
    try:
        data = forms.convert(
            forms.read(form, BATCH_FIELDS, language=language_of(request), timezone=zone),
            CodeBatchCreate,
        )
        batch, queued = await batch_routes.start(
            session,
            decode(Kind.CAMPAIGN, campaign_id),
            data,
            principal=principal,
            settings=state.settings,
            now=clock(),
        )
    except DomainError as exc:
        return await _batches_page(
            request, session, campaign_id, status_code=422, form=form, errors=forms.errors_of(exc)
        )
    jobs: AppJobs = state.jobs
    return Redirect(
        f"/console/batches/{batch.id}?notice=created",
        background=BackgroundTask(jobs.queued) if queued else None,
    )


@post("/campaigns/{campaign_id:str}/batches/customers", opt=MARKETERS)
async def batch_issue(
    request: Request[Any, Any, Any],
    campaign_id: FromPath[str],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
    keyring: KeyringDep,
    state: State,
) -> Response[Any]:
    """Issue one code per customer of an uploaded CSV (the API's function)."""
    submitted = await request.form()
    upload = submitted.get("customers")
    form = {name: value for name, value in submitted.items() if isinstance(value, str)}
    zone = await _timezone(session, campaign_id)
    try:
        expires = forms.read(
            form, [Field("expires_at", "instant")], language=language_of(request), timezone=zone
        )
        data = batch_routes.customer_query(
            form.get("pattern", ""),
            form.get("charset"),
            form.get("max_redemptions_per_code"),
            form.get("valid_for"),
            expires.get("expires_at"),
        )
        body = await upload.read() if isinstance(upload, UploadFile) else b""
        batch, queued = await batch_routes.issue_to_customers(
            session,
            decode(Kind.CAMPAIGN, campaign_id),
            data,
            body,
            principal=principal,
            settings=state.settings,
            keyring=keyring,
            now=clock(),
        )
    except DomainError as exc:
        return await _batches_page(
            request,
            session,
            campaign_id,
            status_code=422,
            issue=form,
            issue_errors=forms.errors_of(exc),
        )
    jobs: AppJobs = state.jobs
    return Redirect(
        f"/console/batches/{batch.id}?notice=created",
        background=BackgroundTask(jobs.queued) if queued else None,
    )


@get("/batches/{batch_id:str}", opt=MARKETERS)
async def batch_detail(
    request: Request[Any, Any, Any], batch_id: FromPath[str], session: DbSession, clock: ClockDep
) -> Template:
    batch = batch_read(await batches.get_batch(session, decode(Kind.CODE_BATCH, batch_id)))
    campaign = campaign_read(
        await campaigns.get_campaign(session, decode(Kind.CAMPAIGN, batch.campaign_id))
    )
    return page(
        request,
        "codes/batch.html",
        batch=batch,
        campaign=campaign,
        finished=batch.status in FINISHED,
        customers_kept=batch.customers_until is not None and clock() < batch.customers_until,
    )


@get("/batches/{batch_id:str}/progress", opt=MARKETERS)
async def batch_progress(
    request: Request[Any, Any, Any], batch_id: FromPath[str], session: DbSession
) -> dict[str, Any]:
    """What the batch page's script polls to move its bar."""
    batch = batch_read(await batches.get_batch(session, decode(Kind.CODE_BATCH, batch_id)))
    return {
        "total": batch.count,
        "done": batch.generated,
        "finished": batch.status in FINISHED,
        "text": f"{batch.generated} / {batch.count}",
    }


@get("/batches/{batch_id:str}/codes.csv", opt=MARKETERS)
async def batch_csv(batch_id: FromPath[str], session: DbSession, state: State) -> Stream:
    return await batch_routes.codes_csv(session, decode(Kind.CODE_BATCH, batch_id), state.jobs)


@get("/batches/{batch_id:str}/customers.csv", opt=MARKETERS)
async def batch_customers_csv(
    batch_id: FromPath[str], session: DbSession, state: State, clock: ClockDep, keyring: KeyringDep
) -> Stream:
    return await batch_routes.customers_csv(
        session, decode(Kind.CODE_BATCH, batch_id), state.jobs, keyring=keyring, now=clock()
    )


@post("/batches/{batch_id:str}/active", opt=MARKETERS)
async def batch_active(
    request: Request[Any, Any, Any],
    batch_id: FromPath[str],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
) -> Response[Any]:
    form = await forms.submitted(request)
    active = form.get("active") == "true"
    done = await batch_routes.set_active(
        session, decode(Kind.CODE_BATCH, batch_id), active, principal=principal, now=clock()
    )
    return Redirect(f"/console/batches/{done.batch.id}?notice={'saved' if active else 'disabled'}")


HANDLERS: list[Any] = [
    code_list,
    code_create,
    code_validity,
    code_active,
    batch_list,
    batch_start,
    batch_issue,
    batch_detail,
    batch_progress,
    batch_csv,
    batch_customers_csv,
    batch_active,
]
