"""A campaign's discount as its row stores it, and back: one mapping for every reader.

The first kinds have their own columns (``percent_off``, ``max_discount``,
``amount_off``), with ``discount_allocation`` and ``discount_max_quantity``
for how a percentage or fixed amount is allocated; the kinds whose terms are
nested (``buy_x_get_y``, ``gift``, ``tiered``) keep them in
``discount_terms``, a JSON document of the public schema's fields (check
constraints in promo.campaigns.models tie each kind to its columns).

``discount_document`` reads a row (an ORM ``Campaign`` or a Core row of the
same column names) into the discount's JSON document, which each reader
converts into its own Struct: the public ``DiscountSpec`` (campaign reads,
/v1/me/campaigns, the console) or the engine's ``Discount`` (the checkout).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from promo.campaigns.schemas import BuyXGetY, DiscountSpec, FixedAmount, Percentage, Tiered

_CENT = Decimal("0.01")
COLUMNS = (
    "discount_type",
    "percent_off",
    "max_discount",
    "amount_off",
    "discount_allocation",
    "discount_max_quantity",
    "discount_terms",
)
"""The campaign columns that hold its discount."""


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT)


def discount_columns(discount: DiscountSpec) -> dict[str, Any]:
    """The values of ``COLUMNS`` that store ``discount`` (percentages with two places)."""
    stored: dict[str, Any] = dict.fromkeys(COLUMNS)
    stored["discount_type"] = type(discount).__struct_config__.tag
    stored["discount_allocation"] = "across"
    match discount:
        case Percentage():
            stored["percent_off"] = _cents(discount.percent_off)
            stored["max_discount"] = discount.max_discount
        case FixedAmount():
            stored["amount_off"] = discount.amount_off
        case BuyXGetY():
            discount = msgspec.structs.replace(discount, percent_off=_cents(discount.percent_off))
        case Tiered():
            tiers = [
                msgspec.structs.replace(t, percent_off=t.percent_off and _cents(t.percent_off))
                for t in discount.tiers
            ]
            discount = msgspec.structs.replace(discount, tiers=tiers)
    if isinstance(discount, Percentage | FixedAmount):
        stored["discount_allocation"] = discount.allocation
        stored["discount_max_quantity"] = discount.max_quantity
    elif stored["discount_type"] != "free_shipping":
        terms = msgspec.to_builtins(discount)
        terms.pop("type")
        stored["discount_terms"] = terms
    return stored


def discount_document(row: Any) -> dict[str, Any]:
    """The discount a row stores, as the JSON document of its kind (no currency)."""
    kind = row.discount_type
    if kind == "percentage":
        document: dict[str, Any] = {
            "percent_off": _cents(Decimal(row.percent_off)),
            "max_discount": row.max_discount,
        }
    elif kind == "fixed_amount":
        document = {"amount_off": row.amount_off}
    else:
        document = dict(row.discount_terms or {})
    if kind in ("percentage", "fixed_amount") and row.discount_allocation != "across":
        document["allocation"] = row.discount_allocation
        document["max_quantity"] = row.discount_max_quantity
    document["type"] = kind
    return document
