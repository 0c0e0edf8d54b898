"""Whether a code applies to a cart, and why not: the ordered checkout rules (pure).

The reasons are checked in one fixed, documented order (API.md): the first
that applies is reported. Identity, state and usage come in as plain values
read by one query; nothing here does I/O, so every rule is unit-testable.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from promo.campaigns.discount import (
    Cart,
    CartLine,
    Discount,
    DiscountResult,
    LineFilter,
    Shortfall,
    compute_discount,
    eligible_lines,
    eligible_quantity,
    eligible_subtotal,
)
from promo.checkout.reasons import MESSAGES, Reason
from promo.identity import Identity
from promo.plans.pricing import Plan, Standing


class CodeState(msgspec.Struct, frozen=True):
    id: int
    display: str
    active: bool
    max_redemptions: int | None
    used: int
    affiliate_id: int | None
    affiliate_active: bool | None
    affiliate_email_key: str | None
    # The code's own window (None: its campaign's) and the ref of the one
    # customer it is for (None: anyone the campaign admits).
    starts_at: datetime | None = None
    expires_at: datetime | None = None
    customer_ref: str | None = None
    # A referral code's referrer, as the refs of its identity (promo.referrals).
    referrer_refs: frozenset[str] = frozenset()
    # The earliest expiry of the code's uses held by reservations (None: none held).
    reserved_until: datetime | None = None


def code_spent(reserved_until: datetime | None) -> Refused:
    """Why a code whose every use is taken does not apply: some are only held
    (``code_reserved``, with the earliest instant one may come back), or it is
    used up."""
    if reserved_until is not None:
        return Refused(Reason.CODE_RESERVED, {"expires_at": reserved_until.isoformat()})
    return Refused(Reason.CODE_EXHAUSTED)


def self_referral(code: CodeState, identity: Identity) -> bool:
    """The shopper is the code's own affiliate (by canonical e-mail) or its
    referrer (by any ref of its id or e-mail)."""
    if code.affiliate_email_key is not None and identity.email == code.affiliate_email_key:
        return True
    return bool(code.referrer_refs) and not code.referrer_refs.isdisjoint(identity.refs)


class CampaignTerms(msgspec.Struct, frozen=True):
    id: int
    status: str
    currency: str
    starts_at: datetime
    ends_at: datetime | None
    discount: Discount
    line_filter: LineFilter
    min_subtotal: int | None
    min_quantity: int | None
    first_order_only: bool
    # The allow-list: refs of the customer ids it is open to (promo.pii).
    customer_refs: frozenset[str]
    max_redemptions: int | None
    redemptions_used: int
    max_redemptions_per_customer: int | None
    budget: int | None
    budget_used: int


class Offer(msgspec.Struct, frozen=True):
    """A live code with its campaign, as read for one checkout; with the
    commission plan and holding period that a redemption would record."""

    code: CodeState
    campaign: CampaignTerms
    plan: Plan = Plan()
    # The affiliate's figures in the plan's current period, before this sale.
    standing: Standing = Standing()
    holding_days: int = 0


class Shopper(msgspec.Struct, frozen=True):
    """The customer of one checkout, with what promo holds about it: read
    for every identity it is known by (promo.identity)."""

    identity: Identity
    first_order: bool
    # The most redemptions any of its identities holds on the campaign, and
    # whether any of them holds one on any campaign.
    used_on_campaign: int = 0
    has_redeemed: bool = False
    # The order already has a live redemption (redemptions only).
    order_taken: bool = False


class Accepted(msgspec.Struct, frozen=True):
    discount: DiscountResult
    eligible_subtotal: int
    # The eligible lines, in cart order (what the commission is priced on).
    eligible: tuple[CartLine, ...] = ()


class Refused(msgspec.Struct, frozen=True):
    reason: Reason
    details: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def message(self) -> str:
        return MESSAGES[self.reason]


def unavailable(offer: Offer | None, now: datetime) -> Refused | None:
    """Why this code works for nobody at all, whatever the cart and the customer:
    the first of the checks that tell that a code exists, or None."""
    if offer is None:
        return Refused(Reason.CODE_NOT_FOUND)
    code, campaign = offer.code, offer.campaign
    if not code.active or code.affiliate_active is False:
        return Refused(Reason.CODE_DISABLED)
    if campaign.status != "active":
        return Refused(Reason.CAMPAIGN_INACTIVE)
    # The code's window lies within its campaign's: the later start, the earlier end.
    starts_at = max(campaign.starts_at, code.starts_at or campaign.starts_at)
    ends = [end for end in (campaign.ends_at, code.expires_at) if end is not None]
    ends_at = min(ends) if ends else None
    if now < starts_at:
        return Refused(Reason.NOT_STARTED, {"starts_at": starts_at.isoformat()})
    if ends_at is not None and now > ends_at:
        return Refused(Reason.EXPIRED, {"ended_at": ends_at.isoformat()})
    return None


def _redemptions_spent(offer: Offer) -> Refused | None:
    code, campaign = offer.code, offer.campaign
    if code.max_redemptions is not None and code.used >= code.max_redemptions:
        return code_spent(code.reserved_until)
    if (
        campaign.max_redemptions is not None
        and campaign.redemptions_used >= campaign.max_redemptions
    ):
        return Refused(Reason.CAMPAIGN_EXHAUSTED)
    return None


def used_up(offer: Offer) -> Refused | None:
    """Whether the code's or the campaign's usage is spent for every cart."""
    spent = _redemptions_spent(offer)
    if spent is None and offer.campaign.budget is not None:
        if offer.campaign.budget_used >= offer.campaign.budget:
            return Refused(Reason.BUDGET_EXHAUSTED)
    return spent


def decide(
    offer: Offer | None,
    shopper: Shopper,
    cart: Cart,
    now: datetime,
    *,
    usage_first: bool = False,
    consuming: bool = False,
) -> Accepted | Refused:
    """Apply every rule in order; the first failing one is the answer.

    ``consuming``: a redemption or a reservation, which spends a use: a gift the
    cart does not hold yet is then ``nothing_to_discount`` (naming the gift), where
    a validation answers it so that the checkout adds it.

    ``usage_first`` (uniform refusals) moves the usage checks that hold for every
    cart before the cart and customer rules: otherwise a deliberately wrong cart
    would be told ``min_subtotal_not_met`` by a used-up code and ``code_unavailable``
    by a code that does not exist, and so tell the two apart.
    """
    if offer is not None and shopper.order_taken:
        return Refused(Reason.ORDER_ALREADY_REDEEMED)
    refused = unavailable(offer, now)
    if refused is not None:
        return refused
    assert offer is not None  # noqa: S101 (unavailable() refuses a missing offer)
    if usage_first and (spent := used_up(offer)) is not None:
        return spent
    code, campaign = offer.code, offer.campaign
    if cart.currency != campaign.currency:
        return Refused(Reason.CURRENCY_MISMATCH, {"expected_currency": campaign.currency})
    identity = shopper.identity
    if campaign.max_redemptions_per_customer is not None and identity.primary is None:
        return Refused(Reason.CUSTOMER_REQUIRED)
    if campaign.customer_refs and campaign.customer_refs.isdisjoint(identity.id_refs):
        return Refused(Reason.CUSTOMER_NOT_ELIGIBLE)
    if code.customer_ref is not None and code.customer_ref not in identity.refs:
        return Refused(Reason.CUSTOMER_NOT_ELIGIBLE)
    if self_referral(code, identity):
        return Refused(Reason.SELF_REFERRAL)
    if campaign.first_order_only and (not shopper.first_order or shopper.has_redeemed):
        return Refused(Reason.FIRST_ORDER_ONLY)

    lines = eligible_lines(cart, campaign.line_filter)
    if not lines:
        return Refused(Reason.NO_ELIGIBLE_ITEMS)
    subtotal = eligible_subtotal(lines)
    if campaign.min_subtotal is not None and subtotal < campaign.min_subtotal:
        return min_subtotal_not_met(campaign.min_subtotal, campaign.min_subtotal - subtotal)
    quantity = eligible_quantity(lines)
    if campaign.min_quantity is not None and quantity < campaign.min_quantity:
        return min_quantity_not_met(campaign.min_quantity, campaign.min_quantity - quantity)
    discount = compute_discount(campaign.discount, cart, lines)
    if isinstance(discount, Shortfall):
        return shortfall_refused(discount)
    if discount.total == 0:
        # A use consumed for nothing (free shipping on a cart without shipping,
        # a zero-priced cart) would only spend the shopper's allowance. A gift
        # the cart does not hold yet is a validation's answer: the checkout adds it.
        gift = discount.gift
        if gift is None or gift.in_cart:
            return Refused(Reason.NOTHING_TO_DISCOUNT)
        if consuming:
            return Refused(
                Reason.NOTHING_TO_DISCOUNT, {"gift": {"sku": gift.sku, "quantity": gift.quantity}}
            )

    if (spent := _redemptions_spent(offer)) is not None:
        return spent
    if (
        campaign.max_redemptions_per_customer is not None
        and shopper.used_on_campaign >= campaign.max_redemptions_per_customer
    ):
        return Refused(Reason.CUSTOMER_LIMIT_REACHED)
    if campaign.budget is not None and campaign.budget_used + discount.total > campaign.budget:
        # Never a silently smaller discount: the whole discount or none.
        return Refused(Reason.BUDGET_EXHAUSTED)
    counted = _counted_lines(cart, lines, discount)
    return Accepted(
        discount=discount, eligible_subtotal=eligible_subtotal(counted), eligible=counted
    )


def _counted_lines(
    cart: Cart, eligible: tuple[CartLine, ...], discount: DiscountResult
) -> tuple[CartLine, ...]:
    """The lines the order amount and the commission are priced on: the eligible
    ones and any other that the discount falls on (a gift outside the rules)."""
    if discount.gift is None:
        return eligible
    discounted = {x.line_id for x in discount.lines if x.amount}
    return tuple(line for line in cart.lines if line in eligible or line.line_id in discounted)


def min_subtotal_not_met(min_subtotal: int, missing: int) -> Refused:
    """The refusal of a cart whose eligible items do not reach ``min_subtotal``
    (the campaign's rule, a tier's or a gift's threshold)."""
    return Refused(
        Reason.MIN_SUBTOTAL_NOT_MET, {"min_subtotal": min_subtotal, "missing_subtotal": missing}
    )


def min_quantity_not_met(min_quantity: int, missing: int) -> Refused:
    """The refusal of a cart short of ``missing`` eligible units (the campaign's
    rule, or one application of buy X get Y: ``buy + get`` units)."""
    return Refused(
        Reason.MIN_QUANTITY_NOT_MET, {"min_quantity": min_quantity, "missing_quantity": missing}
    )


def shortfall_refused(shortfall: Shortfall) -> Refused:
    if shortfall.min_quantity is not None:
        return min_quantity_not_met(shortfall.min_quantity, shortfall.missing)
    assert shortfall.min_subtotal is not None  # noqa: S101 (a Shortfall names one need)
    return min_subtotal_not_met(shortfall.min_subtotal, shortfall.missing)
