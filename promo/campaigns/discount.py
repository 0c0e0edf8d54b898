"""The discount engine: which cart lines a campaign applies to and what it takes off.

Pure functions over frozen msgspec Structs, no I/O: validation and redemption
call them with a cart and a campaign's terms, and unit/property tests cover
them directly. All amounts are integers in the cart's minor units (see
``promo.money``).

Every kind works on what each line *still costs*: ``line.remaining`` is its
total less ``line.taken`` (what earlier codes on the same order took), and
shipping less ``cart.shipping_taken``. So codes chain: apply the first, add
its line amounts to ``taken``, apply the next. With nothing taken this is the
contract's math (API.md, "Discount math"):

- ``percentage``: round-half-up of the eligible subtotal times the percent,
  capped by ``max_discount``;
- ``fixed_amount``: ``amount_off`` capped at the eligible subtotal;
- ``free_shipping``: the cart's shipping.

Allocation (Medusa's): ``across`` (the default) is the above; ``each``
applies the kind per eligible unit (quantity counts), on at most
``max_quantity`` units when given, the cheapest first (see
``promo.campaigns.allocation``): a fixed ``amount_off`` off each such unit
(never more than the unit still costs), or the percent of those units'
cost (``max_discount`` still caps the total). For a percentage without
``max_quantity``, ``each`` and ``across`` come to the same amount.

- ``buy_x_get_y``: ``buy_quantity`` units of the ``buy`` set bring
  ``get_quantity`` units of the ``get`` set at ``percent_off``, at most
  ``max_applications`` times, the cheapest get units first; a unit plays one
  part only (the rule for units in both sets is in ``promo.campaigns.allocation``).
- ``gift``: ``quantity`` units of ``sku`` free once the eligible lines other
  than that sku's reach ``threshold`` (the gift never qualifies itself). The
  result's ``gift`` tells the checkout what to add; units already in the cart
  (any line of that sku, eligible or not, cart order) are discounted whole.
- ``tiered``: the highest tier whose ``threshold`` the eligible subtotal
  reaches: its ``amount_off`` (capped at the subtotal) or ``percent_off``.

A kind that needs more than the cart holds (buy X get Y without one
application, a subtotal under the lowest tier or the gift's threshold)
returns a ``Shortfall`` instead of a result; the checkout words it as its
``min_quantity_not_met`` / ``min_subtotal_not_met`` refusal.

An amount spread over several lines is split by largest remainder, weighted
by what each line still costs (or what its picked units cost), so the line
amounts sum exactly to it and no line gets more than it still costs or less
than zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Literal, TypeAlias, assert_never

import msgspec

from promo.campaigns.allocation import (
    buy_get_count,
    cheapest_units,
    get_units,
    units_cost,
)
from promo.money import percent_of, split_largest_remainder


class CartLine(msgspec.Struct, frozen=True):
    """One line of the checkout's cart; ``unit_price`` in minor units.

    ``taken``: what earlier codes on the same order already took off the line
    (0 for the first or only code); every kind caps at ``remaining``.
    """

    line_id: str
    sku: str
    quantity: int
    unit_price: int
    categories: tuple[str, ...] = ()
    taken: int = 0

    @property
    def total(self) -> int:
        """What the line costs before any discount: quantity * unit price."""
        return self.quantity * self.unit_price

    @property
    def remaining(self) -> int:
        """What the line still costs: its total less what earlier codes took."""
        return self.total - self.taken


class Cart(msgspec.Struct, frozen=True):
    """The cart a code is validated or redeemed against (``shipping_taken``: the
    part of shipping that earlier codes on the order already took)."""

    currency: str
    shipping: int
    lines: tuple[CartLine, ...]
    shipping_taken: int = 0


Allocation = Literal["across", "each"]


# The discount kinds form a tagged union so a campaign's discount decodes
# straight from {"type": "percentage", ...} and friends.
class Percentage(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="type", tag="percentage"
):
    """``percent_off`` (0 < p <= 100, at most two decimals) of the eligible subtotal
    (``each`` with ``max_quantity``: of the cheapest ``max_quantity`` units)."""

    percent_off: Decimal
    max_discount: int | None = None
    allocation: Allocation = "across"
    max_quantity: int | None = None


class FixedAmount(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="type", tag="fixed_amount"
):
    """``amount_off`` minor units off the eligible items (``each``: off each eligible
    unit, at most ``max_quantity`` of them), never more than they still cost."""

    amount_off: int
    allocation: Allocation = "across"
    max_quantity: int | None = None


class FreeShipping(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="type", tag="free_shipping"
):
    """The cart's shipping is waived; items keep their price."""


class ItemSet(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Cart lines by sku or category (a line is in the set when either matches)."""

    skus: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()

    def holds(self, line: CartLine) -> bool:
        return line.sku in self.skus or not self.categories.isdisjoint(line.categories)


class BuyXGetY(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="type", tag="buy_x_get_y"
):
    """``buy_quantity`` units of ``buy`` bring ``get_quantity`` units of ``get`` at
    ``percent_off`` (100: free), at most ``max_applications`` times."""

    buy: ItemSet
    get: ItemSet
    buy_quantity: int
    get_quantity: int
    percent_off: Decimal = Decimal(100)
    max_applications: int = 1


class Gift(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="type", tag="gift"):
    """``quantity`` units of ``sku`` free once the other eligible items reach ``threshold``."""

    sku: str
    threshold: int
    quantity: int = 1


class Tier(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One step of a tiered discount: from ``threshold``, ``amount_off`` or ``percent_off``."""

    threshold: int
    amount_off: int | None = None
    percent_off: Decimal | None = None


class Tiered(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="type", tag="tiered"
):
    """Spend thresholds in increasing order; the highest one reached applies."""

    tiers: tuple[Tier, ...]


Discount: TypeAlias = Percentage | FixedAmount | FreeShipping | BuyXGetY | Gift | Tiered


class LineFilter(msgspec.Struct, frozen=True):
    """Which cart lines a campaign applies to (the include/exclude part of its rules)."""

    include_skus: frozenset[str] = frozenset()
    include_categories: frozenset[str] = frozenset()
    exclude_skus: frozenset[str] = frozenset()
    exclude_categories: frozenset[str] = frozenset()


class LineAmount(msgspec.Struct, frozen=True):
    """The part of an items discount that falls on one line."""

    line_id: str
    sku: str
    amount: int


class GiftLine(msgspec.Struct, frozen=True):
    """What a gift asks of the checkout: the cart should hold ``quantity`` units
    of ``sku``; ``in_cart`` of them are there already and ``amount`` is their
    discount (in ``lines`` too). The checkout adds the ``quantity - in_cart``
    others at their price and validates again, so that the discount (and the
    campaign's budget) covers them."""

    sku: str
    quantity: int
    in_cart: int
    amount: int


class DiscountResult(msgspec.Struct, frozen=True):
    """What a discount takes off a cart.

    ``total`` is everything taken off: ``sum(line.amount for line in lines) +
    shipping``. ``shipping`` is the part taken off shipping (what is left of
    the cart's shipping for free shipping, 0 for the kinds that apply to
    items only). ``lines`` lists every eligible line in cart order, zero
    amounts included, so the caller sees which lines were eligible, and a
    gift's line when the cart has it. ``gift``: for a gift, what the
    checkout must hold.
    """

    total: int
    shipping: int
    lines: tuple[LineAmount, ...]
    gift: GiftLine | None = None


class Shortfall(msgspec.Struct, frozen=True):
    """Why a kind takes nothing off this cart: it needs ``min_subtotal`` of
    eligible subtotal or ``min_quantity`` units (one of the two is set), and
    the cart lacks ``missing`` of it."""

    missing: int
    min_subtotal: int | None = None
    min_quantity: int | None = None


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
    """What the lines still cost (what ``min_subtotal`` and thresholds are checked against)."""
    return sum(line.remaining for line in lines)


def eligible_quantity(lines: Iterable[CartLine]) -> int:
    """Sum of the lines' quantities (what ``min_quantity`` is checked against)."""
    return sum(line.quantity for line in lines)


def _spread(amount: int, weights: Sequence[int]) -> list[int]:
    """``amount`` (at most ``sum(weights)``) split by largest remainder."""
    return split_largest_remainder(amount, weights)


def _percent_on(weights: Sequence[int], percent: Decimal, cap: int | None = None) -> list[int]:
    """``percent`` of the weights' sum (capped by ``cap``), split over them."""
    amount = percent_of(sum(weights), percent)
    return _spread(amount if cap is None else min(amount, cap), weights)


def _items(discount: Discount, cart: Cart, eligible: Sequence[CartLine]) -> list[int] | Shortfall:
    """What ``discount`` takes off each of ``eligible`` (a gift: off ``cart.lines``)."""
    costs = [line.remaining for line in eligible]
    match discount:
        case Percentage(allocation="each", max_quantity=int(limit)):
            picked = cheapest_units(eligible, limit)
            bases = [units_cost(line, k) for line, k in zip(eligible, picked, strict=True)]
            return _percent_on(bases, discount.percent_off, discount.max_discount)
        case Percentage():
            return _percent_on(costs, discount.percent_off, discount.max_discount)
        case FixedAmount(allocation="each"):
            picked = cheapest_units(eligible, discount.max_quantity)
            return [
                min(k * discount.amount_off, units_cost(line, k))
                for line, k in zip(eligible, picked, strict=True)
            ]
        case FixedAmount():
            return _spread(min(discount.amount_off, sum(costs)), costs)
        case FreeShipping():
            return [0] * len(eligible)
        case BuyXGetY():
            terms = {"buy_quantity": discount.buy_quantity, "get_quantity": discount.get_quantity}
            count = buy_get_count(
                eligible,
                discount.buy.holds,
                discount.get.holds,
                max_applications=discount.max_applications,
                **terms,
            )
            if count.applications == 0:
                return Shortfall(
                    missing=count.missing,
                    min_quantity=discount.buy_quantity + discount.get_quantity,
                )
            picked = get_units(eligible, discount.buy.holds, discount.get.holds, count, **terms)
            bases = [units_cost(line, k) for line, k in zip(eligible, picked, strict=True)]
            return _percent_on(bases, discount.percent_off)
        case Gift():
            subtotal = eligible_subtotal(x for x in eligible if x.sku != discount.sku)
            if subtotal < discount.threshold:
                return Shortfall(
                    missing=discount.threshold - subtotal, min_subtotal=discount.threshold
                )
            amounts, left = [], discount.quantity
            for line in cart.lines:
                units = min(left, line.quantity) if line.sku == discount.sku else 0
                amounts.append(units_cost(line, units))
                left -= units
            return amounts
        case Tiered():
            subtotal = sum(costs)
            reached = [tier for tier in discount.tiers if tier.threshold <= subtotal]
            if not reached:
                lowest = discount.tiers[0].threshold
                return Shortfall(missing=lowest - subtotal, min_subtotal=lowest)
            tier = reached[-1]
            if tier.percent_off is not None:
                return _percent_on(costs, tier.percent_off)
            return _spread(min(tier.amount_off or 0, subtotal), costs)
        case _:
            assert_never(discount)


def compute_discount(
    discount: Discount, cart: Cart, eligible: Sequence[CartLine]
) -> DiscountResult | Shortfall:
    """What ``discount`` takes off ``cart``, given its eligible lines (see the
    module doc for each kind), or the ``Shortfall`` that keeps it from applying.

    Line amounts sum exactly to the items part and 0 <= amount <=
    ``line.remaining`` on every line. Amounts, quantities and prices are
    expected non-negative and ``taken`` within each line (checked at the edge).
    """
    amounts = _items(discount, cart, eligible)
    if isinstance(amounts, Shortfall):
        return amounts
    items = sum(amounts)
    shipping = cart.shipping - cart.shipping_taken if isinstance(discount, FreeShipping) else 0
    if not isinstance(discount, Gift):
        lines = tuple(
            LineAmount(line_id=line.line_id, sku=line.sku, amount=amount)
            for line, amount in zip(eligible, amounts, strict=True)
        )
        return DiscountResult(total=items + shipping, shipping=shipping, lines=lines)
    # A gift's amounts are by cart line: its lines are the eligible ones and the
    # gift's own (eligible is a subsequence of the cart's lines).
    shown: list[LineAmount] = []
    rest = iter(eligible)
    upcoming = next(rest, None)
    for line, amount in zip(cart.lines, amounts, strict=True):
        is_eligible = line is upcoming
        if is_eligible:
            upcoming = next(rest, None)
        if is_eligible or amount:
            shown.append(LineAmount(line_id=line.line_id, sku=line.sku, amount=amount))
    held = sum(line.quantity for line in cart.lines if line.sku == discount.sku)
    gift = GiftLine(
        sku=discount.sku,
        quantity=discount.quantity,
        in_cart=min(held, discount.quantity),
        amount=items,
    )
    return DiscountResult(total=items, shipping=0, lines=tuple(shown), gift=gift)


def after(cart: Cart, result: DiscountResult) -> Cart:
    """``cart`` with ``result`` taken: what the next code on the same order sees
    (each line's ``taken`` grows by its amount, ``shipping_taken`` by the shipping)."""
    taken = {part.line_id: part.amount for part in result.lines}
    lines = tuple(
        msgspec.structs.replace(line, taken=line.taken + taken[line.line_id])
        if taken.get(line.line_id)
        else line
        for line in cart.lines
    )
    return msgspec.structs.replace(
        cart, lines=lines, shipping_taken=cart.shipping_taken + result.shipping
    )
