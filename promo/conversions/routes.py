"""/v1/conversions (checkout reports them; marketers and accountants read them)
and /v1/me/conversions (an affiliate's own).

Route bodies are plain functions, shared with the console.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from promo import audit
from promo.affiliates.service import own_affiliate_id
from promo.auth.guards import allow
from promo.auth.roles import Principal, Role
from promo.checkout import idempotency
from promo.checkout.idempotency import answer_key, respond
from promo.codes.models import Code
from promo.conversions import service
from promo.conversions.models import Conversion
from promo.conversions.schemas import (
    ConversionCreate,
    ConversionPage,
    ConversionRead,
    ConversionReject,
)
from promo.db.autocommit import Autocommit
from promo.deps import Caller, ClockDep, DbSession, IdempotencyKey, PageCursor, PageLimit
from promo.events import outbox
from promo.events.outbox import EventType
from promo.ids import Kind, decode, encode, require
from promo.schemas import DEFAULT_LIMIT, NO_NUL, decode_cursor, next_cursor


def status_of(conversion: Conversion, now: datetime) -> str:
    if conversion.rejected_at is not None:
        return "rejected"
    return "approved" if conversion.available_at <= now else "pending"


async def conversion_read(
    session: AsyncSession, conversion: Conversion, now: datetime
) -> ConversionRead:
    code = await session.get(Code, conversion.code_id) if conversion.code_id else None
    return ConversionRead(
        id=encode(Kind.CONVERSION, conversion.id),
        kind=conversion.kind,
        external_id=conversion.external_id,
        affiliate_id=encode(Kind.AFFILIATE, conversion.affiliate_id),
        code=code.code if code else None,
        campaign_id=encode(Kind.CAMPAIGN, conversion.campaign_id)
        if conversion.campaign_id
        else None,
        order_id=conversion.order_id,
        value=conversion.value,
        currency=conversion.currency,
        commission=conversion.commission,
        plan_id=encode(Kind.COMMISSION_PLAN, conversion.plan_id),
        plan_revision=conversion.plan_revision,
        status=status_of(conversion, now),  # type: ignore[arg-type]
        available_at=conversion.available_at,
        created_at=conversion.created_at,
        rejected_at=conversion.rejected_at,
        reject_reason=conversion.reject_reason,
    )


async def report(
    session: AsyncSession,
    reads: Autocommit,
    data: ConversionCreate,
    *,
    principal: Principal,
    key: str | None,
    now: datetime,
) -> idempotency.Answer:
    """Credit a conversion once under its Idempotency-Key (the API's POST)."""
    answer = answer_key(key, "conversion", principal, data)
    to = await service.credited_to(session, reads, data, now=now)

    async def work() -> tuple[int, ConversionRead]:
        conversion = await service.credit(session, data, to, now=now)
        read = await conversion_read(session, conversion, now)
        await outbox.emit(session, EventType.CONVERSION_CREATED, read, now=now)
        return 201, read

    return await idempotency.run_once(session, answer, now=now, work=work)


async def reject(
    session: AsyncSession,
    conversion_id: int | None,
    data: ConversionReject,
    *,
    principal: Principal,
    now: datetime,
) -> ConversionRead:
    """Reject a conversion, audited: the API's POST and the console's button."""
    conversion = await service.reject(session, conversion_id, reason=data.reason, now=now)
    read = await conversion_read(session, conversion, now)
    await outbox.emit(session, EventType.CONVERSION_REJECTED, read, now=now)
    await audit.record(session, principal, "conversion.reject", read.id, now=now, details=data)
    return read


async def page_of(
    session: AsyncSession,
    *,
    affiliate_id: int | None,
    kind: str | None,
    external_id: str | None,
    cursor: str | None,
    limit: int,
    now: datetime,
) -> ConversionPage:
    rows = await service.list_conversions(
        session,
        affiliate_id=affiliate_id,
        kind=kind,
        external_id=external_id,
        after_id=decode_cursor(cursor),
        limit=limit,
    )
    return ConversionPage(
        items=[await conversion_read(session, c, now) for c in rows],
        next_cursor=next_cursor([c.id for c in rows], limit),
    )


KindQuery = Annotated[str | None, QueryParameter(max_length=32, pattern=NO_NUL)]
ExternalIdQuery = Annotated[str | None, QueryParameter(max_length=128, pattern=NO_NUL)]


class ConversionController(Controller):
    path = "/v1/conversions"
    tags = ["conversions"]

    @post(
        "/",
        guards=[allow(Role.CHECKOUT)],
        responses={
            201: ResponseSpec(ConversionRead, description="Credited", generate_examples=False)
        },
        status_code=201,
    )
    async def create_conversion(
        self,
        data: JSONBody[ConversionCreate],
        session: DbSession,
        state: State,
        clock: ClockDep,
        principal: Caller,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[bytes]:
        """Credit a lead, sign-up, install, assist or custom action to an affiliate,
        priced by its plan's fee for the kind and held for its holding period. 409
        ``conversion_duplicate`` when the kind and external id were reported before;
        ``conversion_not_priced`` when the plan pays nothing for the kind."""
        reads: Autocommit = state.reads
        return respond(
            await report(
                session, reads, data, principal=principal, key=idempotency_key, now=clock()
            )
        )

    @post(
        "/{conversion_id:str}/reject",
        guards=[allow(Role.CHECKOUT, Role.MARKETER)],
        status_code=200,
    )
    async def reject_conversion(
        self,
        conversion_id: FromPath[str],
        data: JSONBody[ConversionReject],
        session: DbSession,
        clock: ClockDep,
        principal: Caller,
    ) -> ConversionRead:
        """Reject a conversion (a fake lead): a reversal entry takes its commission back."""
        return await reject(
            session,
            require(Kind.CONVERSION, conversion_id),
            data,
            principal=principal,
            now=clock(),
        )

    @get("/", guards=[allow(Role.CHECKOUT, Role.MARKETER, Role.ACCOUNTANT)])
    async def list_conversions(
        self,
        session: DbSession,
        clock: ClockDep,
        affiliate_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
        kind: KindQuery = None,
        external_id: ExternalIdQuery = None,
        cursor: PageCursor = None,
        limit: PageLimit = DEFAULT_LIMIT,
    ) -> ConversionPage:
        """Conversions in id order, by affiliate, kind or external id."""
        affiliate = None
        if affiliate_id is not None:
            affiliate = decode(Kind.AFFILIATE, affiliate_id)
            if affiliate is None:
                return ConversionPage(items=[], next_cursor=None)
        return await page_of(
            session,
            affiliate_id=affiliate,
            kind=kind,
            external_id=external_id,
            cursor=cursor,
            limit=limit,
            now=clock(),
        )

    @get("/{conversion_id:str}", guards=[allow(Role.CHECKOUT, Role.MARKETER, Role.ACCOUNTANT)])
    async def get_conversion(
        self, conversion_id: FromPath[str], session: DbSession, clock: ClockDep
    ) -> ConversionRead:
        found = await service.get_conversion(session, require(Kind.CONVERSION, conversion_id))
        return await conversion_read(session, found, clock())


@get("/v1/me/conversions", tags=["me"], guards=[allow(Role.AFFILIATE)])
async def my_conversions(
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
    kind: KindQuery = None,
    cursor: PageCursor = None,
    limit: PageLimit = DEFAULT_LIMIT,
) -> ConversionPage:
    """The calling affiliate's own conversions, never another's."""
    return await page_of(
        session,
        affiliate_id=own_affiliate_id(principal),
        kind=kind,
        external_id=None,
        cursor=cursor,
        limit=limit,
        now=clock(),
    )


__all__ = ["ConversionController", "my_conversions"]
