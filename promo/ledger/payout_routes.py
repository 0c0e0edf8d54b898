"""GET /v1/payouts and GET /v1/payouts/{id} (accountant): what was paid, and for what.

The list is what an accountant scans (one line per transfer: affiliate,
currency, amount, as of, when, how many entries); one payout's page is what
a transfer is reconciled against, so it carries every entry it covers. The
covered entries are left out of the list so that a page of payouts stays small
however many sales each one pays.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import get
from litestar.params import FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from promo.auth.guards import allow
from promo.auth.roles import Role
from promo.deps import ClockDep, DbSession, PageCursor, PageLimit
from promo.ids import Kind, optional, require
from promo.ledger import service
from promo.ledger.routes import PublicId
from promo.ledger.schemas import PayoutDetail, PayoutPage, PayoutSummary, payout_fields
from promo.ledger.views import entry_read
from promo.schemas import DEFAULT_LIMIT, decode_cursor, next_cursor


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


async def payout_detail(session: AsyncSession, payout_id: str, *, now: datetime) -> PayoutDetail:
    """One payout with its entries; 404 for an id that is none (the API and the console)."""
    payout, covered = await service.payout_with_entries(session, require(Kind.PAYOUT, payout_id))
    return PayoutDetail(**payout_fields(payout), items=[entry_read(row, now) for row in covered])
