"""Marketers' codes: a campaign's codes (search, create a vanity code, disable)
and its pattern batches (start, follow, download, disable).

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
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Stream

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
from promo.deps import Caller, ClockDep, DbSession
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
]
BATCH_FIELDS = [
    Field("count", "integer"),
    Field("pattern"),
    Field("charset"),
    Field("max_redemptions_per_code", "integer"),
    Field("affiliate_id"),
]
FINISHED = ("done", "failed")


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in (await request.form()).items()}


async def _codes_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    campaign_id: str,
    *,
    q: str | None = None,
    cursor: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response[str]:
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
) -> Response[str]:
    return await _codes_page(request, session, campaign_id, q=q, cursor=cursor)


@post("/campaigns/{campaign_id:str}/codes", opt=MARKETERS)
async def code_create(
    request: Request[Any, Any, Any],
    campaign_id: FromPath[str],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
) -> Response[Any]:
    form = await _form(request)
    try:
        data = forms.convert(
            forms.read(form, CODE_FIELDS, language=language_of(request)), CodeCreate
        )
        created = await code_routes.create(
            session, decode(Kind.CAMPAIGN, campaign_id), data, principal=principal, now=clock()
        )
    except DomainError as exc:
        return await _codes_page(
            request, session, campaign_id, status_code=422, form=form, errors=forms.errors_of(exc)
        )
    return Redirect(
        f"/console/campaigns/{created.campaign_id}/codes?notice=created&q={created.code}"
    )


@post("/codes/{code:str}/active", opt=MARKETERS)
async def code_active(
    request: Request[Any, Any, Any],
    code: FromPath[str],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
) -> Response[Any]:
    form = await _form(request)
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
) -> Response[str]:
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
) -> Response[str]:
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
    form = await _form(request)
    try:
        data = forms.convert(
            forms.read(form, BATCH_FIELDS, language=language_of(request)), CodeBatchCreate
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


@get("/batches/{batch_id:str}", opt=MARKETERS)
async def batch_detail(
    request: Request[Any, Any, Any], batch_id: FromPath[str], session: DbSession
) -> Response[str]:
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


@post("/batches/{batch_id:str}/active", opt=MARKETERS)
async def batch_active(
    request: Request[Any, Any, Any],
    batch_id: FromPath[str],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
) -> Response[Any]:
    form = await _form(request)
    active = form.get("active") == "true"
    done = await batch_routes.set_active(
        session, decode(Kind.CODE_BATCH, batch_id), active, principal=principal, now=clock()
    )
    return Redirect(f"/console/batches/{done.batch.id}?notice={'saved' if active else 'disabled'}")


HANDLERS: list[Any] = [
    code_list,
    code_create,
    code_active,
    batch_list,
    batch_start,
    batch_detail,
    batch_progress,
    batch_csv,
    batch_active,
]
