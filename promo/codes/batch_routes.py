"""/v1/campaigns/{id}/code-batches (create, list) and /v1/code-batches/{id} (marketer)."""

from __future__ import annotations

from datetime import datetime

from litestar import Controller, Response, get, patch, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from promo import audit
from promo.auth.guards import allow
from promo.auth.roles import Principal, Role
from promo.campaigns.service import get_campaign
from promo.codes import batch_jobs, batches, rounds
from promo.codes.batch_csv import batch_codes_csv
from promo.codes.batch_schemas import (
    CodeBatchCreate,
    CodeBatchPage,
    CodeBatchPatch,
    CodeBatchPatched,
    CodeBatchRead,
)
from promo.codes.batch_views import batch_read
from promo.deps import Caller, ClockDep, DbSession, PageCursor, PageLimit
from promo.ids import Kind, decode, encode, optional
from promo.jobs.inprocess import AppJobs
from promo.schemas import DEFAULT_LIMIT, decode_cursor, next_cursor
from promo.settings import Settings


async def start(
    session: AsyncSession,
    campaign_id: int | None,
    data: CodeBatchCreate,
    *,
    principal: Principal,
    settings: Settings,
    now: datetime,
) -> tuple[CodeBatchRead, bool]:
    """Create a batch and audit it; a small one is generated at once, a large
    one queued as a job: (the batch, whether it was queued). The caller tells
    the app's jobs once the transaction committed (``AppJobs.queued``)."""
    campaign = await get_campaign(session, campaign_id)
    batch = await batches.create_batch(
        session,
        campaign,
        pattern=data.pattern,
        charset=data.charset,
        count=data.count,
        max_redemptions_per_code=data.max_redemptions_per_code,
        affiliate_id=optional(Kind.AFFILIATE, data.affiliate_id),
        max_guess_ratio=settings.max_guess_ratio,
        now=now,
    )
    public_id = encode(Kind.CODE_BATCH, batch.id)
    await audit.record(session, principal, "code_batch.create", public_id, now=now, details=data)
    if batch.count <= batches.INLINE_MAX:
        await rounds.fill_inline(session, batch, now=now)
        return batch_read(batch), False
    await batch_jobs.schedule(session, batch.id, now=now)
    return batch_read(batch), True


async def set_active(
    session: AsyncSession,
    batch_id: int | None,
    active: bool,
    *,
    principal: Principal,
    now: datetime,
) -> CodeBatchPatched:
    """Disable or re-enable every code of a finished batch, audited."""
    batch = await batches.get_batch(session, batch_id)
    updated = await batches.set_batch_active(session, batch, active)
    await audit.record(
        session,
        principal,
        "code_batch.update",
        encode(Kind.CODE_BATCH, batch.id),
        now=now,
        details={"active": active, "codes_updated": updated},
    )
    return CodeBatchPatched(batch=batch_read(batch), active=active, codes_updated=updated)


async def codes_csv(session: AsyncSession, batch_id: int | None, jobs: AppJobs) -> Stream:
    """The batch's codes as a streamed CSV download."""
    batch = await batches.get_batch(session, batch_id)
    filename = f"{encode(Kind.CODE_BATCH, batch.id)}.csv"
    return Stream(
        batch_codes_csv(jobs.bind, batch.id),
        media_type="text/csv",  # Litestar adds "; charset=utf-8"
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


class CampaignCodeBatchController(Controller):
    path = "/v1/campaigns/{campaign_id:str}/code-batches"
    tags = ["codes"]
    guards = [allow(Role.MARKETER)]

    @post(
        "/",
        status_code=201,
        responses={
            202: ResponseSpec(
                data_container=CodeBatchRead,
                description="Accepted: a large batch, generated in the background; "
                "follow it with GET /v1/code-batches/{id}",
            )
        },
    )
    async def create_batch(
        self,
        campaign_id: FromPath[str],
        data: JSONBody[CodeBatchCreate],
        session: DbSession,
        clock: ClockDep,
        principal: Caller,
        state: State,
    ) -> Response[CodeBatchRead]:
        """Generate ``count`` unique random codes from a pattern (``#`` = a random character).

        Batches of up to 1000 codes are generated at once (201, status done);
        larger ones in the background (202, status pending). 422
        ``pattern_too_guessable`` (with ``space`` and ``max_count``) when the
        pattern's codes, existing ones included, would exceed the guessability
        bound.
        """
        batch, queued = await start(
            session,
            decode(Kind.CAMPAIGN, campaign_id),
            data,
            principal=principal,
            settings=state.settings,
            now=clock(),
        )
        if not queued:
            return Response(batch, status_code=201)
        jobs: AppJobs = state.jobs
        # Told once the response is sent, hence after the batch and its job committed.
        return Response(batch, status_code=202, background=BackgroundTask(jobs.queued))

    @get("/")
    async def list_batches(
        self,
        campaign_id: FromPath[str],
        session: DbSession,
        cursor: PageCursor = None,
        limit: PageLimit = DEFAULT_LIMIT,
    ) -> CodeBatchPage:
        """The campaign's batches with their status and progress, oldest first (id order)."""
        campaign = await get_campaign(session, decode(Kind.CAMPAIGN, campaign_id))
        rows = await batches.list_batches(
            session, campaign.id, after_id=decode_cursor(cursor), limit=limit
        )
        return CodeBatchPage(
            items=[batch_read(b) for b in rows],
            next_cursor=next_cursor([b.id for b in rows], limit),
        )


class CodeBatchController(Controller):
    path = "/v1/code-batches/{batch_id:str}"
    tags = ["codes"]
    guards = [allow(Role.MARKETER)]

    @get("/")
    async def get_batch(self, batch_id: FromPath[str], session: DbSession) -> CodeBatchRead:
        """A batch with its status (pending, running, done, failed) and progress."""
        return batch_read(await batches.get_batch(session, decode(Kind.CODE_BATCH, batch_id)))

    @patch("/")
    async def patch_batch(
        self,
        batch_id: FromPath[str],
        data: JSONBody[CodeBatchPatch],
        session: DbSession,
        clock: ClockDep,
        principal: Caller,
    ) -> CodeBatchPatched:
        """Disable (``{"active": false}``) or re-enable every code of a finished batch."""
        return await set_active(
            session,
            decode(Kind.CODE_BATCH, batch_id),
            data.active,
            principal=principal,
            now=clock(),
        )

    @get(
        "/codes.csv",
        media_type="text/csv",
        responses={
            200: ResponseSpec(data_container=str, media_type="text/csv", generate_examples=False)
        },
    )
    async def batch_codes(
        self, batch_id: FromPath[str], session: DbSession, state: State
    ) -> Stream:
        """The batch's codes as CSV (header ``code``, one code per line), streamed."""
        return await codes_csv(session, decode(Kind.CODE_BATCH, batch_id), state.jobs)
