"""The figures a report derives from its sums (pure, exact integer arithmetic).

Ratios are decimal strings with ``PLACES`` places, rounded half up (``"0.2500"``);
amounts per sale are integer minor units, rounded half up. A figure whose
denominator is zero (or, for a return on cost, not positive) is null.
"""

from __future__ import annotations

from promo.money import div_round_half_up

PLACES = 4


def ratio(numerator: int, denominator: int, places: int = PLACES) -> str | None:
    """``numerator / denominator`` as a decimal string; None when the denominator is 0."""
    if denominator == 0:
        return None
    scaled = div_round_half_up(numerator * 10**places, denominator)
    sign = "-" if scaled < 0 else ""
    whole, fraction = divmod(abs(scaled), 10**places)
    return f"{sign}{whole}.{fraction:0{places}d}"


def net_revenue(revenue: int, refunds: int) -> int:
    """Order amounts less what refunds and rollbacks gave back."""
    return revenue - refunds


def cost(discount: int, commission: int) -> int:
    """What the sales cost: the discount granted and the commission earned (both net)."""
    return discount + commission


def cost_per_sale(discount: int, commission: int, redemptions: int) -> int | None:
    """The cost per redemption, in minor units; None without redemptions."""
    if redemptions == 0:
        return None
    return div_round_half_up(cost(discount, commission), redemptions)


def return_on_cost(net: int, spent: int) -> str | None:
    """Net revenue per unit of cost; None when nothing (or less) was spent."""
    return ratio(net, spent) if spent > 0 else None
