"""Checkout routes (checkout role): validations."""

from __future__ import annotations

from litestar import post
from litestar.params import JSONBody

from promo.auth.guards import allow
from promo.auth.roles import Role
from promo.campaigns.eligibility import Accepted
from promo.deps import ClockDep, DbSession
from promo.ids import Kind, encode
from promo.redemptions.schemas import (
    CheckoutRequest,
    DiscountOut,
    LineOut,
    ValidationResult,
)
from promo.redemptions.validation import validate


@post("/v1/validations", status_code=200, tags=["checkout"], guards=[allow(Role.CHECKOUT)])
async def create_validation(
    data: JSONBody[CheckoutRequest], session: DbSession, clock: ClockDep
) -> ValidationResult:
    """Validate a code against a cart. Read-only: 200 for every well-formed request,
    with the discount per line, or the first reason (in the documented order) why not."""
    offer, decision = await validate(session, data, now=clock())
    code = offer.code.display if offer else None
    campaign_id = encode(Kind.CAMPAIGN, offer.campaign.id) if offer else None
    if isinstance(decision, Accepted):
        discount = decision.discount
        return ValidationResult(
            valid=True,
            code=code,
            campaign_id=campaign_id,
            reason=None,
            discount=DiscountOut(
                total=discount.total,
                shipping=discount.shipping,
                lines=[
                    LineOut(line_id=line.line_id, sku=line.sku, amount=line.amount)
                    for line in discount.lines
                ],
            ),
        )
    return ValidationResult(
        valid=False,
        code=code,
        campaign_id=campaign_id,
        reason=decision.reason.value,
        message=decision.message,
        details=decision.details,
    )
