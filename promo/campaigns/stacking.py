"""How a campaign's discount stacks with others on one order: its terms (pure).

Each campaign says what it stacks with, by discount class as Shopify has it
(``combines_with``: ``order``, ``product``, ``shipping``), whether it is
``exclusive`` (it stacks with nothing) and its ``priority`` (higher first).
Nothing stacks by default: a campaign combines only where its marketer says
so. The rule that applies these terms to the discounts of one order is
promo.checkout.stacking.

A discount's class follows from what it takes off: free shipping is a
``shipping`` discount; one on chosen items a ``product`` discount (an include
list of SKUs or categories, buy X get Y, a gift, an amount off each item, as
Shopify classes them); any other an ``order`` discount (a percentage or an
amount across the order, tiers of spend).
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from promo.campaigns.discount import (
    BuyXGetY,
    Discount,
    FixedAmount,
    FreeShipping,
    Gift,
    LineFilter,
    Percentage,
)


class DiscountClass(StrEnum):
    """What a discount takes its amount off: chosen items, the order, shipping."""

    ORDER = "order"
    PRODUCT = "product"
    SHIPPING = "shipping"


class CombinesWith(msgspec.Struct, frozen=True):
    """The classes of the other discounts a campaign's discount stacks with."""

    order: bool = False
    product: bool = False
    shipping: bool = False

    def admits(self, discount_class: DiscountClass) -> bool:
        return bool(getattr(self, discount_class.value))


class Stacking(msgspec.Struct, frozen=True):
    """How one campaign's discount stacks with others on an order."""

    discount_class: DiscountClass
    combines_with: CombinesWith = CombinesWith()
    exclusive: bool = False
    priority: int = 0


def discount_class(discount: Discount, line_filter: LineFilter) -> DiscountClass:
    """The class of a campaign's discount (the module's rule)."""
    if isinstance(discount, FreeShipping):
        return DiscountClass.SHIPPING
    if isinstance(discount, BuyXGetY | Gift):
        return DiscountClass.PRODUCT
    if isinstance(discount, Percentage | FixedAmount) and discount.allocation == "each":
        return DiscountClass.PRODUCT
    if line_filter.include_skus or line_filter.include_categories:
        return DiscountClass.PRODUCT
    return DiscountClass.ORDER


def combinable(first: Stacking, second: Stacking) -> bool:
    """Whether two discounts may apply to the same order (symmetric): neither is
    exclusive and each one's ``combines_with`` admits the other's class."""
    return (
        not first.exclusive
        and not second.exclusive
        and first.combines_with.admits(second.discount_class)
        and second.combines_with.admits(first.discount_class)
    )
