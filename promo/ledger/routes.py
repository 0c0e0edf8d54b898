"""/v1/ledger, /v1/payouts, /v1/reports (accountant) and /v1/me/earnings (affiliate)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody, QueryParameter
from litestar.response import Stream
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from promo import audit
from promo.auth.guards import allow
from promo.auth.roles import Principal, Role
from promo.checkout.idempotency import Answer, answer_key, respond, run_once
from promo.deps import Caller, ClockDep, DbSession, IdempotencyKey, PageCursor, PageLimit
from promo.errors import NotFound
from promo.ids import Kind, decode, encode, optional
from promo.ledger import service
from promo.ledger.export import FORMATS, stream_ledger
from promo.ledger.models import Payout
from promo.ledger.schemas import (
    AdjustmentCreate,
    CommissionReport,
    CommissionTotals,
    Earnings,
    EarningsRead,
    EntryPage,
    EntryRead,
    PayoutRead,
    PayoutRun,
    PayoutRunResult,
    payout_fields,
)
from promo.ledger.schemas import Kind as EntryKind
from promo.ledger.views import entry_read
from promo.schemas import DEFAULT_LIMIT, decode_cursor, instant, next_cursor, utc_instant

# Taken as text and parsed here, so that errors name the parameters the
# client sent (``from``/``to``) and an instant without offset is refused.
Start = Annotated[
    str | None,
    QueryParameter(name="from", max_length=64, description="RFC 3339; created_at >= from"),
]
End = Annotated[
    str | None, QueryParameter(name="to", max_length=64, description="RFC 3339; created_at < to")
]


PublicId = Annotated[str | None, QueryParameter(max_length=64)]


def ledger_filters(
    start: str | None,
    end: str | None,
    affiliate_id: str | None,
    campaign_id: str | None,
    kind: str | None,
) -> service.Filters:
    return service.Filters(
        start=instant("from", start),
        end=instant("to", end),
        affiliate_id=optional(Kind.AFFILIATE, affiliate_id),
        campaign_id=optional(Kind.CAMPAIGN, campaign_id),
        kind=kind,
    )


def totals_read(totals: service.Totals) -> CommissionTotals:
    return CommissionTotals(
        affiliate_id=encode(Kind.AFFILIATE, totals.affiliate_id) if totals.affiliate_id else None,
        currency=totals.currency,
        orders=totals.orders,
        revenue=totals.revenue,
        discount=totals.discount,
        commission_pending=totals.pending,
        commission_approved=totals.approved,
        commission_paid=totals.paid,
        balance=totals.balance,
    )


async def entry_page(
    session: AsyncSession,
    filters: service.Filters,
    *,
    cursor: str | None,
    limit: int,
    now: datetime,
) -> EntryPage:
    """One page of the entries ``filters`` select (GET /v1/ledger and the console)."""
    rows = await service.list_entries(session, filters, after_id=decode_cursor(cursor), limit=limit)
    return EntryPage(
        items=[entry_read(row, now) for row in rows],
        next_cursor=next_cursor([row.id for row in rows], limit),
    )


def export_stream(engine: AsyncEngine, filters: service.Filters, fmt: str) -> Stream:
    """The streamed download of what ``filters`` select, as a ``fmt`` attachment
    (GET /v1/ledger/export and the console)."""
    media_type, _ = FORMATS[fmt]
    return Stream(
        stream_ledger(engine, filters, fmt),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="ledger.{fmt}"'},
    )


class LedgerController(Controller):
    path = "/v1/ledger"
    tags = ["ledger"]
    guards = [allow(Role.ACCOUNTANT)]

    @get("/")
    async def list_entries(
        self,
        session: DbSession,
        clock: ClockDep,
        start: Start = None,
        end: End = None,
        affiliate_id: PublicId = None,
        campaign_id: PublicId = None,
        kind: Annotated[EntryKind | None, QueryParameter()] = None,
        cursor: PageCursor = None,
        limit: PageLimit = DEFAULT_LIMIT,
    ) -> EntryPage:
        """Ledger entries in id order, with their derived status."""
        filters = ledger_filters(start, end, affiliate_id, campaign_id, kind)
        return await entry_page(session, filters, cursor=cursor, limit=limit, now=clock())

    @get(
        "/export",
        responses={
            200: ResponseSpec(
                str, media_type="text/csv", description="The export", generate_examples=False
            )
        },
    )
    async def export(
        self,
        state: State,
        format: Annotated[str, QueryParameter(pattern="^(csv|jsonl)$")] = "csv",
        start: Start = None,
        end: End = None,
        affiliate_id: PublicId = None,
        campaign_id: PublicId = None,
        kind: Annotated[EntryKind | None, QueryParameter()] = None,
    ) -> Stream:
        """Stream the ledger (CSV, RFC 4180 with a header, or JSON lines) from its own
        snapshot, in id order; amounts in major units, timestamps in UTC."""
        filters = ledger_filters(start, end, affiliate_id, campaign_id, kind)
        return export_stream(state.engine, filters, format)

    @post(
        "/adjustments",
        status_code=201,
        responses={
            201: ResponseSpec(
                EntryRead, description="The adjustment entry", generate_examples=False
            )
        },
    )
    async def adjust(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[AdjustmentCreate],
        session: DbSession,
        clock: ClockDep,
        principal: Caller,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[bytes]:
        """A manual bonus (positive) or correction (negative) for an affiliate."""

        async def work() -> tuple[int, EntryRead]:
            now = clock()
            entry_id = await service.adjust(
                session,
                affiliate_id=decode(Kind.AFFILIATE, data.affiliate_id),
                currency=data.currency,
                commission=data.commission,
                note=data.note,
                now=now,
            )
            read = entry_read(await service.entry(session, entry_id), now)
            await audit.record(
                session, principal, "ledger.adjustment", read.id, now=now, details=data
            )
            return 201, read

        key = answer_key(idempotency_key, "ledger_adjustment", principal, data)
        return respond(await run_once(session, key, now=clock(), work=work))


async def _payout_reads(session: AsyncSession, ids: list[int]) -> list[PayoutRead]:
    rows = (
        await session.scalars(select(Payout).where(Payout.id.in_(ids)).order_by(Payout.id))
    ).all()
    return [PayoutRead(**payout_fields(p)) for p in rows]


@post(
    "/v1/payouts",
    tags=["ledger"],
    guards=[allow(Role.ACCOUNTANT)],
    status_code=201,
    responses={
        201: ResponseSpec(PayoutRunResult, description="The payouts made", generate_examples=False)
    },
)
async def run_payouts(
    request: Request[Any, Any, Any],
    data: JSONBody[PayoutRun],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
    idempotency_key: IdempotencyKey = None,
) -> Response[bytes]:
    """Pay every affiliate and currency whose approved, unpaid balance at ``as_of``
    reaches its threshold. Running it again pays only what became approved since."""
    return respond(
        await pay(session, data, principal=principal, idempotency_key=idempotency_key, now=clock())
    )


async def pay(
    session: AsyncSession,
    data: PayoutRun,
    *,
    principal: Principal,
    idempotency_key: str | None,
    now: datetime,
) -> Answer:
    """A payout run under its Idempotency-Key, audited (POST /v1/payouts and the
    console's confirm): a second request with the key replays the first's answer."""

    async def work() -> tuple[int, PayoutRunResult]:
        as_of = utc_instant("as_of", data.as_of)
        ids = await service.run_payouts(session, as_of=as_of, now=now)
        result = PayoutRunResult(as_of=data.as_of, payouts=await _payout_reads(session, ids))
        await audit.record(
            session,
            principal,
            "payouts.run",
            None,
            now=now,
            details={"as_of": data.as_of.isoformat(), "payouts": [p.id for p in result.payouts]},
        )
        return 201, result

    key = answer_key(idempotency_key, "payouts", principal, data)
    return await run_once(session, key, now=now, work=work)


@get("/v1/reports/commissions", tags=["ledger"], guards=[allow(Role.ACCOUNTANT)])
async def commission_report(
    session: DbSession, clock: ClockDep, start: Start = None, end: End = None
) -> CommissionReport:
    """Per affiliate and currency over the ledger rows created in [from, to): orders,
    revenue, discount, commission by status and balance; sums equal the ledger's."""
    return await report(session, ledger_filters(start, end, None, None, None), now=clock())


async def report(
    session: AsyncSession, filters: service.Filters, *, now: datetime
) -> CommissionReport:
    """The commission report over ``filters`` (GET /v1/reports/commissions and the console)."""
    totals = await service.commission_report(session, filters, now=now)
    return CommissionReport(
        start=filters.start, end=filters.end, rows=[totals_read(t) for t in totals]
    )


@get("/v1/me/earnings", tags=["affiliates"], guards=[allow(Role.AFFILIATE)])
async def my_earnings(session: DbSession, clock: ClockDep, principal: Caller) -> EarningsRead:
    """The calling affiliate's commission per currency: pending, approved, paid, balance."""
    return await my_earnings_read(session, principal, now=clock())


async def my_earnings_read(
    session: AsyncSession, principal: Principal, *, now: datetime
) -> EarningsRead:
    """The calling affiliate's commission per currency: GET /v1/me/earnings and the
    console's earnings page."""
    if principal.affiliate_id is None:
        raise NotFound("affiliate_not_found", "This key is not bound to an affiliate")
    totals = await service.commission_report(
        session, service.Filters(affiliate_id=principal.affiliate_id), now=now
    )
    return EarningsRead(
        affiliate_id=encode(Kind.AFFILIATE, principal.affiliate_id),
        earnings=[
            Earnings(
                currency=t.currency,
                pending=t.pending,
                approved=t.approved,
                paid=t.paid,
                balance=t.balance,
            )
            for t in totals
        ],
    )
