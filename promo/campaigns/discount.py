"""The discount engine: which cart lines a campaign applies to and what it takes off.

Pure functions over frozen msgspec Structs, no I/O: validation and redemption
call them with a cart and a campaign's terms, and unit/property tests cover
them directly. All amounts are integers in the cart's minor units (see
``promo.money``).

The math follows the contract (API.md, "Discount math"):

- percentage: round-half-up of the eligible subtotal times the percent,
  capped by ``max_discount``;
- fixed amount: ``amount_off`` capped at the eligible subtotal;
- free shipping: the cart's shipping.

An items discount is split over the eligible lines by largest remainder,
weighted by line total, so the line amounts sum exactly to it and no line
gets more than its own total or less than zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TypeAlias, assert_never

import msgspec

from promo.money import percent_of, split_largest_remainder


class CartLine(msgspec.Struct, frozen=True):
    """One line of the checkout's cart; ``unit_price`` in minor units."""

    line_id: str
    sku: str
    quantity: int
    unit_price: int
    categories: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        """What the line costs before any discount: quantity * unit price."""
        return self.quantity * self.unit_price


class Cart(msgspec.Struct, frozen=True):
    """The cart a code is validated or redeemed against."""

    currency: str
    shipping: int
    lines: tuple[CartLine, ...]


# The discount kinds form a tagged union so a campaign's discount decodes
# straight from {"type": "percentage", ...} and friends.
class Percentage(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="type", tag="percentage"
):
    """``percent_off`` (0 < p <= 100, at most two decimals) of the eligible subtotal."""

    percent_off: Decimal
    max_discount: int | None = None


class FixedAmount(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="type", tag="fixed_amount"
):
    """``amount_off`` minor units off the eligible items, never more than they cost."""

    amount_off: int


class FreeShipping(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="type", tag="free_shipping"
):
    """The cart's shipping is waived; items keep their price."""


Discount: TypeAlias = Percentage | FixedAmount | FreeShipping


class LineFilter(msgspec.Struct, frozen=True):
    """Which cart lines a campaign applies to (the include/exclude part of its rules)."""

    include_skus: frozenset[str] = frozenset()
    include_categories: frozenset[str] = frozenset()
    exclude_skus: frozenset[str] = frozenset()
    exclude_categories: frozenset[str] = frozenset()


class LineAmount(msgspec.Struct, frozen=True):
    """The part of an items discount that falls on one eligible line."""

    line_id: str
    sku: str
    amount: int


class DiscountResult(msgspec.Struct, frozen=True):
    """What a discount takes off a cart.

    ``total`` is everything taken off: ``sum(line.amount for line in lines) +
    shipping``. ``shipping`` is the part taken off shipping (the cart's whole
    shipping for free shipping, 0 for percentage and fixed discounts, which
    apply to items only). ``lines`` lists every eligible line in cart order,
    zero amounts included, so the caller sees which lines were eligible.
    """

    total: int
    shipping: int
    lines: tuple[LineAmount, ...]


def eligible_lines(cart: Cart, line_filter: LineFilter) -> tuple[CartLine, ...]:
    """The cart's lines the campaign applies to, in cart order.

    Includes first: with no include filter every line is a candidate;
    otherwise a line is when its sku is in ``include_skus`` or one of its
    categories is in ``include_categories``. Excludes then win over
    includes: a sku in ``exclude_skus`` or any category in
    ``exclude_categories`` removes the line.
    """
    has_include = bool(line_filter.include_skus or line_filter.include_categories)

    def is_eligible(line: CartLine) -> bool:
        if has_include and not (
            line.sku in line_filter.include_skus
            or not line_filter.include_categories.isdisjoint(line.categories)
        ):
            return False
        return (
            line.sku not in line_filter.exclude_skus
            and line_filter.exclude_categories.isdisjoint(line.categories)
        )

    return tuple(line for line in cart.lines if is_eligible(line))


def eligible_subtotal(lines: Iterable[CartLine]) -> int:
    """Sum of the lines' totals (what ``min_subtotal`` is checked against)."""
    return sum(line.total for line in lines)


def eligible_quantity(lines: Iterable[CartLine]) -> int:
    """Sum of the lines' quantities (what ``min_quantity`` is checked against)."""
    return sum(line.quantity for line in lines)


def compute_discount(
    discount: Discount, cart: Cart, eligible: Sequence[CartLine]
) -> DiscountResult:
    """What ``discount`` takes off ``cart``, given its eligible lines.

    - ``Percentage``: ``percent_of(eligible subtotal, percent_off)`` (round
      half up), capped by ``max_discount`` when set; result ``shipping`` is 0.
    - ``FixedAmount``: ``amount_off`` capped at the eligible subtotal; result
      ``shipping`` is 0.
    - ``FreeShipping``: result ``shipping`` and ``total`` are ``cart.shipping``;
      every line amount is 0.

    The items discount is split over ``eligible`` by largest remainder with
    line totals as weights (ties to the earlier line): line amounts sum
    exactly to it and 0 <= amount <= line total. Amounts, quantities and
    prices are expected non-negative (checked at the edge).
    """
    subtotal = eligible_subtotal(eligible)
    shipping = 0
    match discount:
        case Percentage(percent_off=percent_off, max_discount=max_discount):
            items = percent_of(subtotal, percent_off)
            if max_discount is not None:
                items = min(items, max_discount)
        case FixedAmount(amount_off=amount_off):
            items = min(amount_off, subtotal)
        case FreeShipping():
            items = 0
            shipping = cart.shipping
        case _:
            assert_never(discount)

    # items <= subtotal (percent <= 100, fixed capped), so no line gets more
    # than its own total.
    parts = split_largest_remainder(items, [line.total for line in eligible])
    lines = tuple(
        LineAmount(line_id=line.line_id, sku=line.sku, amount=part)
        for line, part in zip(eligible, parts, strict=True)
    )
    return DiscountResult(total=items + shipping, shipping=shipping, lines=lines)
