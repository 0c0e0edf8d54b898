"""/v1/campaigns/{id}/code-imports (marketer): upload a CSV of existing codes,
follow its import, read the lines it refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.params import FromPath
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from promo import audit
from promo.auth.guards import allow
from promo.auth.roles import Principal, Role
from promo.campaigns.service import get_campaign
from promo.codes import imports, imports_jobs
from promo.codes.imports_csv import import_errors_csv
from promo.codes.imports_schemas import CodeImportErrorPage, CodeImportPage, CodeImportRead
from promo.deps import Caller, ClockDep, DbSession, PageCursor, PageLimit
from promo.ids import Kind, decode, encode
from promo.jobs.inprocess import AppJobs
from promo.schemas import DEFAULT_LIMIT, decode_cursor, next_cursor
from promo.settings import Settings

PATH = "/v1/campaigns/{campaign_id:str}/code-imports"


async def start(
    session: AsyncSession,
    campaign_id: int | None,
    body: AsyncIterator[bytes],
    *,
    declared_size: int | None,
    filename: str | None,
    principal: Principal,
    settings: Settings,
    now: datetime,
) -> CodeImportRead:
    """Store an upload as a pending import, queue its job, audit it: the API's
    POST and the console's form. The caller tells the app's jobs once the
    transaction committed (``AppJobs.queued``)."""
    campaign = await get_campaign(session, campaign_id)
    if declared_size is not None and declared_size > settings.max_import_bytes:
        raise imports.too_large(settings.max_import_bytes)
    row = await imports.create_import(
        session,
        campaign,
        body,
        max_bytes=settings.max_import_bytes,
        filename=filename,
        now=now,
    )
    await imports_jobs.schedule(session, row.id, now=now)
    read = imports.import_read(row)
    await audit.record(
        session,
        principal,
        "code_import.create",
        read.id,
        now=now,
        details={"campaign_id": read.campaign_id, "size": row.size, "filename": filename},
    )
    return read


async def errors_page(
    session: AsyncSession, campaign_id: str, import_id: str, cursor: str | None, limit: int
) -> CodeImportErrorPage:
    row = await imports.get_import(
        session, decode(Kind.CAMPAIGN, campaign_id), decode(Kind.CODE_IMPORT, import_id)
    )
    found = await imports.list_errors(
        session, row.id, after_line=decode_cursor(cursor), limit=limit
    )
    return CodeImportErrorPage(
        items=[imports.line_error_read(e) for e in found],
        next_cursor=next_cursor([e.line for e in found], limit),
    )


async def refused_csv(
    session: AsyncSession, campaign_id: str, import_id: str, jobs: AppJobs
) -> Stream:
    row = await imports.get_import(
        session, decode(Kind.CAMPAIGN, campaign_id), decode(Kind.CODE_IMPORT, import_id)
    )
    filename = f"{encode(Kind.CODE_IMPORT, row.id)}-errors.csv"
    return Stream(
        import_errors_csv(jobs.bind, row.id),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


class CodeImportController(Controller):
    path = PATH
    tags = ["codes"]
    guards = [allow(Role.MARKETER)]

    @post(
        "/",
        status_code=202,
        # The upload is bounded by PROMO_MAX_IMPORT_BYTES as it streams, not by
        # the JSON bodies' PROMO_MAX_BODY_BYTES.
        request_max_body_size=None,
    )
    async def create_import(
        self,
        campaign_id: FromPath[str],
        request: Request[Any, Any, Any],
        session: DbSession,
        clock: ClockDep,
        principal: Caller,
        state: State,
    ) -> Response[CodeImportRead]:
        """Import existing codes from a CSV file sent as the body (``text/csv``, UTF-8).

        The first line is a header naming the columns: ``code`` (required) and
        ``max_redemptions`` (optional; empty = no limit); other columns are
        refused (422 ``invalid_csv_header``). The body is stored as it streams
        (413 ``import_too_large`` past PROMO_MAX_IMPORT_BYTES) and checked by a
        background job: 202 with the import, followed with GET
        ``.../code-imports/{id}``. Each line's code is loaded as a vanity code
        unless it is invalid, repeats an earlier line or a live code reads the
        same; refused lines are listed at ``.../errors`` with their line number
        and reason, and the other lines are imported all the same.
        """
        read = await start(
            session,
            decode(Kind.CAMPAIGN, campaign_id),
            request.stream(),
            declared_size=request.content_length,
            filename=None,
            principal=principal,
            settings=state.settings,
            now=clock(),
        )
        jobs: AppJobs = state.jobs
        return Response(read, status_code=202, background=BackgroundTask(jobs.queued))

    @get("/")
    async def list_imports(
        self,
        campaign_id: FromPath[str],
        session: DbSession,
        cursor: PageCursor = None,
        limit: PageLimit = DEFAULT_LIMIT,
    ) -> CodeImportPage:
        """The campaign's imports, newest first."""
        campaign = await get_campaign(session, decode(Kind.CAMPAIGN, campaign_id))
        rows = await imports.list_imports(
            session, campaign.id, after_id=decode_cursor(cursor), limit=limit
        )
        return CodeImportPage(
            items=[imports.import_read(r) for r in rows],
            next_cursor=next_cursor([r.id for r in rows], limit),
        )

    @get("/{import_id:str}")
    async def get_import(
        self, campaign_id: FromPath[str], import_id: FromPath[str], session: DbSession
    ) -> CodeImportRead:
        """An import with its status (pending, running, done, failed) and progress:
        lines read, codes imported, lines refused."""
        row = await imports.get_import(
            session, decode(Kind.CAMPAIGN, campaign_id), decode(Kind.CODE_IMPORT, import_id)
        )
        return imports.import_read(row)

    @get("/{import_id:str}/errors")
    async def list_errors(
        self,
        campaign_id: FromPath[str],
        import_id: FromPath[str],
        session: DbSession,
        cursor: PageCursor = None,
        limit: PageLimit = DEFAULT_LIMIT,
    ) -> CodeImportErrorPage:
        """The lines the import refused, in line order, each with its reason:
        malformed_line, invalid_code, invalid_max_redemptions, duplicate_in_file
        (with ``duplicate_of``, the earlier line) or code_taken."""
        return await errors_page(session, campaign_id, import_id, cursor, limit)

    @get(
        "/{import_id:str}/errors.csv",
        media_type="text/csv",
        responses={
            200: ResponseSpec(data_container=str, media_type="text/csv", generate_examples=False)
        },
    )
    async def errors_csv(
        self,
        campaign_id: FromPath[str],
        import_id: FromPath[str],
        session: DbSession,
        state: State,
    ) -> Stream:
        """The refused lines as CSV (``line,reason,message,code,duplicate_of``), streamed."""
        return await refused_csv(session, campaign_id, import_id, state.jobs)
