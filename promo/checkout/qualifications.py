"""What a customer qualifies for: its own codes that would apply to a cart.

A customer's own codes are the live codes bound to it (promo.codes: reward,
apology and win-back codes, referral rewards), found by any ref of its
identity. Each is decided exactly as a validation decides it
(``validation.decide_code``), so a code listed here redeems for what it
shows; nothing is consumed. Best value first: the largest discount, then the
newest code.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.campaigns.discount import Cart
from promo.campaigns.models import Campaign
from promo.checkout.eligibility import Accepted, Offer
from promo.checkout.validation import decide_code
from promo.codes.models import Code
from promo.db.autocommit import Autocommit
from promo.identity import Identity

codes = cast(Table, Code.__table__)
campaigns = cast(Table, Campaign.__table__)

# A customer holds a handful; a list beyond this is not read whole.
MAX_OWN_CODES = 50

OWN_CODES = (
    select(codes.c.canonical)
    .join(campaigns, campaigns.c.id == codes.c.campaign_id)
    .where(
        codes.c.customer_ref.in_(bindparam("refs", expanding=True)),
        codes.c.live,
        codes.c.active,
        campaigns.c.status == "active",
        campaigns.c.currency == bindparam("currency"),
    )
    .order_by(codes.c.id.desc())
    .limit(MAX_OWN_CODES)
)


async def own_codes(session: AsyncSession, identity: Identity, currency: str) -> list[str]:
    """The canonical forms of the customer's live codes on running campaigns in
    ``currency``, newest first."""
    if not identity.refs:
        return []
    rows = await session.scalars(OWN_CODES, {"refs": list(identity.refs), "currency": currency})
    return list(rows)


async def qualifications(
    session: AsyncSession,
    reads: Autocommit,
    cart: Cart,
    identity: Identity,
    *,
    first_order: bool,
    now: datetime,
) -> list[tuple[Offer, Accepted]]:
    """The customer's own codes that apply to ``cart``, each with its decision,
    best value first."""
    found: list[tuple[int, int, Offer, Accepted]] = []
    for canonical in await own_codes(session, identity, cart.currency):
        offer, _, decision = await decide_code(
            reads, canonical, cart, identity, first_order=first_order, now=now
        )
        if offer is not None and isinstance(decision, Accepted):
            found.append((decision.discount.total, offer.code.id, offer, decision))
    found.sort(key=lambda item: (-item[0], -item[1]))
    return [(offer, decision) for _, _, offer, decision in found]
