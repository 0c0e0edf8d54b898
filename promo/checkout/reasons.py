"""Why a code does not apply: the stable reasons, in the order they are checked.

One list for validations, redemptions and the classification of a
redemption that stopped in the database (promo.checkout.steps), so the same
situation is always told the same way.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a code does not apply, in the order the checks run."""

    CODE_NOT_FOUND = "code_not_found"
    ORDER_ALREADY_REDEEMED = "order_already_redeemed"
    CODE_DISABLED = "code_disabled"
    CAMPAIGN_INACTIVE = "campaign_inactive"
    NOT_STARTED = "not_started"
    EXPIRED = "expired"
    CURRENCY_MISMATCH = "currency_mismatch"
    CUSTOMER_REQUIRED = "customer_required"
    CUSTOMER_NOT_ELIGIBLE = "customer_not_eligible"
    SELF_REFERRAL = "self_referral"
    FIRST_ORDER_ONLY = "first_order_only"
    NO_ELIGIBLE_ITEMS = "no_eligible_items"
    MIN_SUBTOTAL_NOT_MET = "min_subtotal_not_met"
    MIN_QUANTITY_NOT_MET = "min_quantity_not_met"
    NOTHING_TO_DISCOUNT = "nothing_to_discount"
    # Every use of the code is taken and some are only held (reservations):
    # one may come back, at the earliest when the first hold expires.
    CODE_RESERVED = "code_reserved"
    CODE_EXHAUSTED = "code_exhausted"
    CAMPAIGN_EXHAUSTED = "campaign_exhausted"
    CUSTOMER_LIMIT_REACHED = "customer_limit_reached"
    BUDGET_EXHAUSTED = "budget_exhausted"
    # Several discounts on one order (promo.checkout.stacking): checked last.
    NOT_COMBINABLE = "not_combinable"


MESSAGES: dict[Reason, str] = {
    Reason.ORDER_ALREADY_REDEEMED: "This order already has a redemption.",
    Reason.CODE_NOT_FOUND: "This code does not exist.",
    Reason.CODE_DISABLED: "This code is no longer active.",
    Reason.CAMPAIGN_INACTIVE: "This code's promotion is not running.",
    Reason.NOT_STARTED: "This code's promotion has not started yet.",
    Reason.EXPIRED: "This code has expired.",
    Reason.CURRENCY_MISMATCH: "This code cannot be used in this currency.",
    Reason.CUSTOMER_REQUIRED: "Sign in or give an e-mail address to use this code.",
    Reason.CUSTOMER_NOT_ELIGIBLE: "This code is not available to this customer.",
    Reason.SELF_REFERRAL: "Affiliates cannot use their own code.",
    Reason.FIRST_ORDER_ONLY: "This code is only valid on a first order.",
    Reason.NO_ELIGIBLE_ITEMS: "No item in the cart qualifies for this code.",
    Reason.MIN_SUBTOTAL_NOT_MET: "The qualifying items do not reach the minimum amount.",
    Reason.MIN_QUANTITY_NOT_MET: "Not enough qualifying items in the cart.",
    Reason.NOTHING_TO_DISCOUNT: "This code takes nothing off this cart.",
    Reason.CODE_RESERVED: "This code's last use is held by another checkout.",
    Reason.CODE_EXHAUSTED: "This code has been used up.",
    Reason.CAMPAIGN_EXHAUSTED: "This promotion has been used up.",
    Reason.CUSTOMER_LIMIT_REACHED: "This customer has already used this promotion.",
    Reason.BUDGET_EXHAUSTED: "This promotion's budget is used up.",
    Reason.NOT_COMBINABLE: "This code cannot be combined with another discount on this order.",
}

# Reasons a guesser gets for codes that do not work at all.
GUESS_REASONS = frozenset({Reason.CODE_NOT_FOUND, Reason.CODE_DISABLED})
# Reasons that reveal that a code exists (its campaign, its window, its usage).
CONCEALED_REASONS = frozenset(
    {
        Reason.CODE_NOT_FOUND,
        Reason.CODE_DISABLED,
        Reason.CAMPAIGN_INACTIVE,
        Reason.NOT_STARTED,
        Reason.EXPIRED,
        Reason.CODE_RESERVED,
        Reason.CODE_EXHAUSTED,
        Reason.CAMPAIGN_EXHAUSTED,
        Reason.BUDGET_EXHAUSTED,
    }
)
UNIFORM_REASON = "code_unavailable"
UNIFORM_MESSAGE = "This code cannot be used."
