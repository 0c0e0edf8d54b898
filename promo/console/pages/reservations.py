"""Marketers' view of a campaign's held reservations: how many, and which.

The same listing as GET /v1/reservations?campaign_id=&status=held
(``promo.checkout.reservations.list_reservations``), without the shoppers'
refs: a marketer sees what is held and until when, not for whom.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from promo.auth.roles import Role
from promo.campaigns import service as campaigns
from promo.campaigns.views import campaign_read
from promo.checkout import reservations
from promo.checkout.reservations import code_of, reservation_read
from promo.console.rendering import page
from promo.deps import DbSession
from promo.ids import Kind, decode
from promo.schemas import decode_cursor, next_cursor

MARKETERS = {"roles": (Role.MARKETER,)}
PAGE_SIZE = 50


@get("/campaigns/{campaign_id:str}/reservations", opt=MARKETERS)
async def held_reservations(
    request: Request[Any, Any, Any],
    campaign_id: FromPath[str],
    session: DbSession,
    cursor: FromQuery[str | None] = None,
) -> Template:
    campaign = campaign_read(
        await campaigns.get_campaign(session, decode(Kind.CAMPAIGN, campaign_id))
    )
    key = decode(Kind.CAMPAIGN, campaign.id) or 0
    rows = await reservations.list_reservations(
        session, campaign_id=key, status="held", after_id=decode_cursor(cursor), limit=PAGE_SIZE
    )
    more = next_cursor([row.id for row in rows], PAGE_SIZE)
    return page(
        request,
        "reservations/list.html",
        campaign=campaign,
        held=await reservations.held_count(session, key),
        reservations=[reservation_read(row, code_of(row)) for row in rows],
        next_url=f"/console/campaigns/{campaign.id}/reservations?cursor={more}" if more else None,
    )


HANDLERS: list[Any] = [held_reservations]
