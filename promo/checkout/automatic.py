"""The automatic promotions a cart may get: running automatic campaigns' codes.

Each automatic campaign counts its uses on its one code (promo.codes.automatic);
this finds those codes for a currency, for the checkout to decide each one as
it decides a typed code (window, rules, limits: the offer read and ``decide``).
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.campaigns.models import Campaign
from promo.codes.automatic import KIND
from promo.codes.models import Code

codes = cast(Table, Code.__table__)
campaigns = cast(Table, Campaign.__table__)

RUNNING_AUTOMATIC = (
    select(codes.c.canonical)
    .join(campaigns, campaigns.c.id == codes.c.campaign_id)
    .where(
        campaigns.c.automatic,
        campaigns.c.currency == bindparam("currency"),
        campaigns.c.status == "active",
        codes.c.kind == KIND,
        codes.c.live,
        codes.c.active,
    )
    .order_by(campaigns.c.id)
)


async def automatic_codes(session: AsyncSession, currency: str) -> list[str]:
    """The canonical forms of the active automatic campaigns' codes in ``currency``,
    oldest campaign first (their windows are the offers' to judge)."""
    return list(await session.scalars(RUNNING_AUTOMATIC, {"currency": currency}))
