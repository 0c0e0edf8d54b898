"""Marketers' imports of existing codes: upload a CSV file on a campaign's code
pages, follow the import, read and download the lines it refused.

The form posts the file (multipart); its bytes go, a piece at a time, to the
function the API's route calls (``promo.codes.imports_routes.start``), so the
rules, the bound and every refusal are the API's. The import runs as a job;
its page shows a progress bar that the page's script moves by polling
``/progress`` (as a batch's page does), and that a reload moves without script.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State, UploadFile
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Stream, Template

from promo.auth.roles import Role
from promo.campaigns import service as campaigns
from promo.campaigns.views import campaign_read
from promo.codes import imports, imports_routes
from promo.console.rendering import page
from promo.console.words import IMPORT_REASONS
from promo.deps import Caller, ClockDep, DbSession
from promo.errors import DomainError, Invalid, problem_for
from promo.ids import Kind, decode
from promo.jobs.inprocess import AppJobs
from promo.schemas import decode_cursor, next_cursor

MARKETERS = {"roles": (Role.MARKETER,)}
PAGE_SIZE = 50
FINISHED = ("done", "failed")
# A form's file arrives whole before the page sees it (the CSRF check reads
# the form), so the console bounds it at the default PROMO_MAX_IMPORT_BYTES
# (with room for the form around it); the import's own bound applies within.
# Larger files go through the API, which streams them.
UPLOAD_MAX_BYTES = 65 * 1024 * 1024
READ_BYTES = 1024 * 1024


async def _pieces(upload: UploadFile) -> AsyncIterator[bytes]:
    while piece := await upload.read(READ_BYTES):
        yield piece


async def _imports_page(
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
    rows = await imports.list_imports(
        session,
        decode(Kind.CAMPAIGN, campaign_id) or 0,
        after_id=decode_cursor(cursor),
        limit=PAGE_SIZE,
    )
    more = next_cursor([r.id for r in rows], PAGE_SIZE)
    context.setdefault("errors", {})
    return page(
        request,
        "codes/imports.html",
        status_code=status_code,
        campaign=campaign,
        imports=[imports.import_read(r) for r in rows],
        next_url=f"/console/campaigns/{campaign.id}/imports?cursor={more}" if more else None,
        **context,
    )


@get("/campaigns/{campaign_id:str}/imports", opt=MARKETERS)
async def import_list(
    request: Request[Any, Any, Any],
    campaign_id: FromPath[str],
    session: DbSession,
    cursor: FromQuery[str | None] = None,
) -> Template:
    return await _imports_page(request, session, campaign_id, cursor=cursor)


@post(
    "/campaigns/{campaign_id:str}/imports",
    opt=MARKETERS,
    request_max_body_size=UPLOAD_MAX_BYTES,
)
async def import_start(
    request: Request[Any, Any, Any],
    campaign_id: FromPath[str],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
    state: State,
) -> Response[Any]:
    form = await request.form()
    upload = form.get("file")
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise Invalid.field("file", "choose a CSV file to import", "file_required")
        read = await imports_routes.start(
            session,
            decode(Kind.CAMPAIGN, campaign_id),
            _pieces(upload),
            declared_size=None,
            filename=upload.filename[:255],
            principal=principal,
            settings=state.settings,
            now=clock(),
        )
    except DomainError as exc:
        # Every refusal of an upload is the file's: shown beside its field.
        message = "; ".join(e.message for e in exc.errors) or exc.detail
        return await _imports_page(
            request,
            session,
            campaign_id,
            status_code=problem_for(exc).status_code,
            errors={"file": message},
        )
    jobs: AppJobs = state.jobs
    return Redirect(
        f"/console/campaigns/{read.campaign_id}/imports/{read.id}?notice=created",
        background=BackgroundTask(jobs.queued),
    )


@get("/campaigns/{campaign_id:str}/imports/{import_id:str}", opt=MARKETERS)
async def import_detail(
    request: Request[Any, Any, Any],
    campaign_id: FromPath[str],
    import_id: FromPath[str],
    session: DbSession,
    cursor: FromQuery[str | None] = None,
) -> Template:
    row = await imports.get_import(
        session, decode(Kind.CAMPAIGN, campaign_id), decode(Kind.CODE_IMPORT, import_id)
    )
    read = imports.import_read(row)
    campaign = campaign_read(await campaigns.get_campaign(session, row.campaign_id))
    errors = await imports_routes.errors_page(session, campaign_id, import_id, cursor, PAGE_SIZE)
    base = f"/console/campaigns/{campaign.id}/imports/{read.id}"
    return page(
        request,
        "codes/import.html",
        item=read,
        campaign=campaign,
        finished=read.status in FINISHED,
        refused=errors.items,
        reasons=IMPORT_REASONS,
        next_url=f"{base}?cursor={errors.next_cursor}" if errors.next_cursor else None,
    )


@get("/campaigns/{campaign_id:str}/imports/{import_id:str}/progress", opt=MARKETERS)
async def import_progress(
    campaign_id: FromPath[str], import_id: FromPath[str], session: DbSession
) -> dict[str, Any]:
    """What the import page's script polls to move its bar."""
    row = await imports.get_import(
        session, decode(Kind.CAMPAIGN, campaign_id), decode(Kind.CODE_IMPORT, import_id)
    )
    read = imports.import_read(row)
    return {
        "total": read.size,
        "done": read.bytes_read,
        "finished": read.status in FINISHED,
        "text": str(read.lines_read),
    }


@get("/campaigns/{campaign_id:str}/imports/{import_id:str}/errors.csv", opt=MARKETERS)
async def import_errors_csv(
    campaign_id: FromPath[str], import_id: FromPath[str], session: DbSession, state: State
) -> Stream:
    return await imports_routes.refused_csv(session, campaign_id, import_id, state.jobs)


HANDLERS: list[Any] = [
    import_list,
    import_start,
    import_detail,
    import_progress,
    import_errors_csv,
]
