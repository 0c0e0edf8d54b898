"""What the checkout answers with: its rows and results as the API's Structs.

One rendering for the JSON routes, the answers stored under an
Idempotency-Key and (later) the console.
"""

from __future__ import annotations

import msgspec

from promo.campaigns.discount import DiscountResult
from promo.checkout.models import Redemption
from promo.checkout.schemas import DiscountOut, GiftOut, LineOut, RedemptionRead
from promo.ids import Kind, encode


def discount_out(discount: DiscountResult) -> DiscountOut:
    return DiscountOut(
        total=discount.total,
        shipping=discount.shipping,
        lines=[LineOut(line_id=x.line_id, sku=x.sku, amount=x.amount) for x in discount.lines],
        gift=None if discount.gift is None else GiftOut(**msgspec.structs.asdict(discount.gift)),
    )


def status_of(red: Redemption) -> str:
    if red.rolled_back_at is not None:
        return "rolled_back"
    return "partially_refunded" if red.refunded_amount else "active"


def redemption_read(red: Redemption, code: str) -> RedemptionRead:
    return RedemptionRead(
        id=encode(Kind.REDEMPTION, red.id),
        code=code,
        campaign_id=encode(Kind.CAMPAIGN, red.campaign_id),
        affiliate_id=encode(Kind.AFFILIATE, red.affiliate_id) if red.affiliate_id else None,
        customer_ref=red.customer_ref,
        order_id=red.order_id,
        currency=red.currency,
        order_amount=red.order_amount,
        discount=DiscountOut(
            total=red.discount_total,
            shipping=red.discount_shipping,
            lines=[LineOut(**line) for line in red.discount_lines],
        ),
        commission=red.commission,
        refunded_amount=red.refunded_amount,
        status=status_of(red),  # type: ignore[arg-type]
        created_at=red.created_at,
        rolled_back_at=red.rolled_back_at,
    )
