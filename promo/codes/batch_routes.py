"""/v1/campaigns/{id}/code-batches (create, list) and /v1/code-batches/{id} (marketer)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody
from litestar.openapi.spec import Schema as OpenAPISchema
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from promo import audit
from promo.auth.guards import allow
from promo.auth.roles import Principal, Role
from promo.campaigns.service import get_campaign
from promo.codes import batch_customers, batch_jobs, batches, rounds
from promo.codes.batch_csv import batch_codes_csv, batch_customers_csv
from promo.codes.batch_schemas import (
    CodeBatchCreate,
    CodeBatchPage,
    CodeBatchPatch,
    CodeBatchPatched,
    CodeBatchRead,
    CustomerCodesCreate,
)
from promo.codes.batch_views import batch_read
from promo.codes.models import CodeBatch
from promo.deps import Caller, ClockDep, DbSession, KeyringDep, PageCursor, PageLimit
from promo.errors import Invalid, decoded_field_error
from promo.ids import Kind, decode, encode, optional
from promo.jobs.inprocess import AppJobs
from promo.pii import Keyring
from promo.schemas import DEFAULT_LIMIT, decode_cursor, next_cursor
from promo.settings import Settings


@dataclass
class CustomerListBody(Operation):
    """Documents the customer list's body: CSV text, read by the handler itself."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            content={
                "text/csv": OpenAPIMediaType(
                    schema=OpenAPISchema(
                        type=OpenAPIType.STRING,
                        description="Customer ids or e-mails, one per line (first column); "
                        "an optional header line names the column (customer, customer_id, "
                        "customer_email, email, id)",
                        examples=["customer\ncus_42\nana@example.com\n"],
                    )
                )
            },
            required=True,
        )


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
        valid_for=data.valid_for,
        expires_at=data.expires_at,
    )
    public_id = encode(Kind.CODE_BATCH, batch.id)
    await audit.record(session, principal, "code_batch.create", public_id, now=now, details=data)
    return await _generate(session, batch, now=now)


async def issue_to_customers(
    session: AsyncSession,
    campaign_id: int | None,
    data: CustomerCodesCreate,
    customer_list: bytes,
    *,
    principal: Principal,
    settings: Settings,
    keyring: Keyring,
    now: datetime,
) -> tuple[CodeBatchRead, bool]:
    """``start`` for a list of customers (a CSV of ids or e-mails): one code each,
    bound to it. Audited without the list (its size only)."""
    campaign = await get_campaign(session, campaign_id)
    customers = batch_customers.read_list(keyring, customer_list)
    batch = await batch_customers.create_customer_batch(
        session,
        campaign,
        customers,
        data,
        keyring=keyring,
        max_guess_ratio=settings.max_guess_ratio,
        keep_list_days=settings.retain_customer_lists_days,
        now=now,
    )
    public_id = encode(Kind.CODE_BATCH, batch.id)
    details = {**msgspec.to_builtins(data), "customers": len(customers)}
    await audit.record(session, principal, "code_batch.create", public_id, now=now, details=details)
    return await _generate(session, batch, now=now)


async def _generate(
    session: AsyncSession, batch: CodeBatch, *, now: datetime
) -> tuple[CodeBatchRead, bool]:
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


def customer_query(
    pattern: str,
    charset: str | None,
    max_redemptions_per_code: str | None,
    valid_for: str | None,
    expires_at: str | None,
) -> CustomerCodesCreate:
    """The settings of a customer list's batch as sent (query or form fields,
    text); 422 naming the field that cannot be read."""
    given = {
        "pattern": pattern,
        "charset": charset,
        "max_redemptions_per_code": max_redemptions_per_code,
        "valid_for": valid_for,
        "expires_at": expires_at,
    }
    fields = {name: value for name, value in given.items() if value not in (None, "")}
    try:
        return msgspec.convert(fields, CustomerCodesCreate, strict=False)
    except msgspec.ValidationError as exc:
        error = decoded_field_error(exc)
        raise Invalid(
            "validation_failed", f"{error.field}: {error.message}", errors=[error]
        ) from None


async def customers_csv(
    session: AsyncSession,
    batch_id: int | None,
    jobs: AppJobs,
    *,
    keyring: Keyring,
    now: datetime,
) -> Stream:
    """A customer list's batch as a streamed CSV (customer as given, code), while kept."""
    batch = await batches.get_batch(session, batch_id)
    batch_customers.check_list_available(batch, now)
    filename = f"{encode(Kind.CODE_BATCH, batch.id)}-customers.csv"
    return Stream(
        batch_customers_csv(jobs.bind, batch.id, keyring, batch_customers.SEAL_PURPOSE),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


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

    @post(
        "/customers",
        status_code=201,
        operation_class=CustomerListBody,
        responses={
            202: ResponseSpec(
                data_container=CodeBatchRead,
                description="Accepted: a large list, issued in the background; "
                "follow it with GET /v1/code-batches/{id}",
            )
        },
    )
    async def issue_to_customers(
        self,
        request: Request[Any, Any, Any],
        campaign_id: FromPath[str],
        session: DbSession,
        clock: ClockDep,
        principal: Caller,
        keyring: KeyringDep,
        state: State,
        pattern: Annotated[str, QueryParameter(min_length=1, max_length=64)],
        charset: Annotated[str | None, QueryParameter(max_length=128)] = None,
        max_redemptions_per_code: Annotated[str | None, QueryParameter(max_length=16)] = None,
        valid_for: Annotated[
            str | None, QueryParameter(max_length=64, description="ISO 8601, e.g. P30D")
        ] = None,
        expires_at: Annotated[
            str | None, QueryParameter(max_length=64, description="RFC 3339 with offset")
        ] = None,
    ) -> Response[CodeBatchRead]:
        """Issue one unique code per customer of a CSV list (the body, ``text/csv``:
        customer ids or e-mails, one per line in the first column, header
        optional), each bound to its customer, from ``pattern``; ``valid_for`` or
        ``expires_at`` set when they expire. Small lists are issued at once (201),
        larger ones in the background (202). 422 ``invalid_customer_list`` lists
        bad and repeated lines by number. The codes with their customers as given:
        ``GET /v1/code-batches/{id}/customers.csv``, until ``customers_until``.
        """
        data = customer_query(pattern, charset, max_redemptions_per_code, valid_for, expires_at)
        batch, queued = await issue_to_customers(
            session,
            decode(Kind.CAMPAIGN, campaign_id),
            data,
            await request.body(),
            principal=principal,
            settings=state.settings,
            keyring=keyring,
            now=clock(),
        )
        if not queued:
            return Response(batch, status_code=201)
        jobs: AppJobs = state.jobs
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

    @get(
        "/customers.csv",
        media_type="text/csv",
        responses={
            200: ResponseSpec(data_container=str, media_type="text/csv", generate_examples=False)
        },
    )
    async def batch_customers(
        self,
        batch_id: FromPath[str],
        session: DbSession,
        state: State,
        clock: ClockDep,
        keyring: KeyringDep,
    ) -> Stream:
        """A batch issued to customers: header ``customer,code``, each customer as it
        was uploaded with its code, streamed; 404 ``customer_list_purged`` after
        ``customers_until`` (the list as given is deleted, the codes stay bound)."""
        return await customers_csv(
            session, decode(Kind.CODE_BATCH, batch_id), state.jobs, keyring=keyring, now=clock()
        )
