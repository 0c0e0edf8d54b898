"""GET /v1/payouts and GET /v1/payouts/{id} (accountant): what was paid, and for what;
POST /v1/payouts/preview: what a run would pay, before it is run.

The list is what an accountant scans (one line per transfer: affiliate,
currency, amount, as of, when, how many entries); one payout's page is what
a transfer is reconciled against, so it carries every entry it covers. The
covered entries are left out of the list so that a page of payouts stays small
however many sales each one pays.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import get, post
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from promo.auth.guards import allow
from promo.auth.roles import Role
from promo.deps import ClockDep, DbSession, PageCursor, PageLimit
from promo.errors import Invalid
from promo.ids import Kind, encode, optional, require
from promo.ledger import service
from promo.ledger.routes import PublicId
from promo.ledger.schemas import (
    CurrencyTotal,
    PayoutDetail,
    PayoutPage,
    PayoutPreview,
    PayoutRun,
    PayoutSummary,
    PlannedPayoutRead,
    payout_fields,
)
from promo.ledger.views import entry_read
from promo.money import MAX_SAFE_INTEGER, is_json_safe
from promo.schemas import DEFAULT_LIMIT, decode_cursor, next_cursor, utc_instant


@get("/v1/payouts", tags=["ledger"], guards=[allow(Role.ACCOUNTANT)])
async def list_payouts(
    session: DbSession,
    affiliate_id: PublicId = None,
    currency: Annotated[
        str | None, QueryParameter(pattern="^[A-Z]{3}$", description="ISO 4217 code")
    ] = None,
    cursor: PageCursor = None,
    limit: PageLimit = DEFAULT_LIMIT,
) -> PayoutPage:
    """Payouts in id order (oldest first), each with the number of entries it covers."""
    return await payout_page(
        session, affiliate_id=affiliate_id, currency=currency, cursor=cursor, limit=limit
    )


async def payout_page(
    session: AsyncSession,
    *,
    affiliate_id: str | None,
    currency: str | None,
    cursor: str | None,
    limit: int,
) -> PayoutPage:
    """One page of payouts (GET /v1/payouts and the console)."""
    rows = await service.list_payouts(
        session,
        affiliate_id=optional(Kind.AFFILIATE, affiliate_id),
        currency=currency,
        after_id=decode_cursor(cursor),
        limit=limit,
    )
    return PayoutPage(
        items=[PayoutSummary(**payout_fields(row), entries=row.entries) for row in rows],
        next_cursor=next_cursor([row.id for row in rows], limit),
    )


@get("/v1/payouts/{payout_id:str}", tags=["ledger"], guards=[allow(Role.ACCOUNTANT)])
async def get_payout(session: DbSession, clock: ClockDep, payout_id: FromPath[str]) -> PayoutDetail:
    """One payout and every ledger entry it covers, in id order."""
    return await payout_detail(session, payout_id, now=clock())


async def payout_detail(
    session: AsyncSession, payout_id: str, *, now: datetime, affiliate_id: int | None = None
) -> PayoutDetail:
    """One payout with its entries; 404 for an id that is none (the API and the console),
    or, with ``affiliate_id`` (an affiliate's own payouts), another affiliate's."""
    payout, covered = await service.payout_with_entries(
        session, require(Kind.PAYOUT, payout_id), affiliate_id=affiliate_id
    )
    return PayoutDetail(**payout_fields(payout), items=[entry_read(row, now) for row in covered])


@post(
    "/v1/payouts/preview",
    tags=["ledger"],
    guards=[allow(Role.ACCOUNTANT)],
    status_code=200,
    responses={
        200: ResponseSpec(PayoutPreview, description="What would be paid", generate_examples=False)
    },
)
async def preview_payouts(
    session: DbSession, clock: ClockDep, data: JSONBody[PayoutRun]
) -> PayoutPreview:
    """What POST /v1/payouts with this body would pay if run now, per affiliate and
    currency, with totals per currency; writes nothing (no Idempotency-Key needed)."""
    return await preview(session, data, now=clock())


async def preview(session: AsyncSession, data: PayoutRun, *, now: datetime) -> PayoutPreview:
    """The run's plan (``service.plan_payouts``, what ``run_payouts`` then writes)
    as the API and the console's preview show it."""
    as_of = utc_instant("as_of", data.as_of)
    plan = await service.plan_payouts(session, as_of=as_of, now=now)
    totals: dict[str, list[int]] = {}
    for planned in plan:
        count_and_sum = totals.setdefault(planned.currency, [0, 0])
        count_and_sum[0] += 1
        count_and_sum[1] += planned.amount
    if not all(is_json_safe(amount) for _, amount in totals.values()):
        raise Invalid(
            "total_out_of_range",
            f"a total exceeds {MAX_SAFE_INTEGER}, the largest number JSON clients read exactly",
        )
    return PayoutPreview(
        as_of=data.as_of,
        payouts=[
            PlannedPayoutRead(
                affiliate_id=encode(Kind.AFFILIATE, planned.affiliate_id),
                currency=planned.currency,
                amount=planned.amount,
                entries=len(planned.entry_ids),
            )
            for planned in plan
        ],
        totals=[
            CurrencyTotal(currency=currency, payouts=count, amount=amount)
            for currency, (count, amount) in sorted(totals.items())
        ],
    )
