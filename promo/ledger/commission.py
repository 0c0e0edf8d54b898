"""Commission arithmetic (pure): at redemption, and what refunds take back.

Commission = round_half_up(net order x percent / 100) + fixed, where the net
order is the eligible items after discount (shipping excluded). The
affiliate's own plan overrides the campaign's default, field by field.
A partial refund shrinks the percentage part by the refunded share:
``round_half_up(percentage x refunded so far / order amount)`` is taken back,
computed on the cumulative refund so that repeated refunds never drift, the
rule that also gives the budget back its share of the discount. Each refund's
entry is the new target less what the redemption's entries already add up to;
the fixed part goes only with the full rollback, which reverses all of it.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from promo.money import div_round_half_up, percent_of


class Plan(msgspec.Struct, frozen=True):
    percent: Decimal | None = None
    fixed: int | None = None


def effective_plan(affiliate: Plan, campaign: Plan) -> Plan:
    """The affiliate's override where it sets a value, else the campaign's default."""
    return Plan(
        percent=affiliate.percent if affiliate.percent is not None else campaign.percent,
        fixed=affiliate.fixed if affiliate.fixed is not None else campaign.fixed,
    )


def commission_for(order_amount: int, plan: Plan) -> tuple[int, int]:
    """(total commission, its fixed part) for a net order amount."""
    percentage = percent_of(order_amount, plan.percent) if plan.percent else 0
    fixed = plan.fixed or 0
    return percentage + fixed, fixed


def share(amount: int, part: int, whole: int) -> int:
    """``amount * part / whole`` rounded half up; the share of a refund."""
    if whole == 0:
        return 0
    return div_round_half_up(amount * part, whole)


def commission_after_refund(
    commission: int, fixed: int, order_amount: int, refunded_total: int
) -> int:
    """What the redemption's commission is worth once ``refunded_total`` of the
    order has been refunded (not yet fully): less the refunded share of the
    percentage part, rounded half up."""
    percentage = commission - fixed
    return commission - share(percentage, refunded_total, order_amount)
