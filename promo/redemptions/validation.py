"""POST /v1/validations: is this code good for this cart, and for how much? Read-only."""

from __future__ import annotations

from datetime import datetime

from promo.campaigns.discount import Cart, CartLine
from promo.campaigns.eligibility import Accepted, Offer, Refused, Shopper, decide
from promo.codes.service import canonical_or_invalid
from promo.db.autocommit import Autocommit
from promo.errors import Invalid
from promo.money import MAX_AMOUNT, is_currency
from promo.redemptions.identity import canonical_email, customer_key
from promo.redemptions.queries import load_offer
from promo.redemptions.schemas import CheckoutRequest


def cart_of(request: CheckoutRequest) -> Cart:
    """The engine's cart; rejects what the schema cannot see (422 naming the field)."""
    if not is_currency(request.cart.currency):
        raise Invalid.field("cart.currency", f"unknown ISO 4217 currency {request.cart.currency!r}")
    lines: list[CartLine] = []
    seen: set[str] = set()
    subtotal = 0
    for index, item in enumerate(request.cart.items):
        line_id = item.line_id if item.line_id is not None else str(index)
        if line_id in seen:
            raise Invalid.field(f"cart.items[{index}].line_id", f"duplicate line_id {line_id!r}")
        seen.add(line_id)
        line = CartLine(
            line_id=line_id,
            sku=item.sku,
            quantity=item.quantity,
            unit_price=item.unit_price,
            categories=tuple(item.categories),
        )
        subtotal += line.total
        if subtotal > MAX_AMOUNT:
            raise Invalid.field(f"cart.items[{index}]", f"cart total exceeds {MAX_AMOUNT}")
        lines.append(line)
    return Cart(currency=request.cart.currency, shipping=request.cart.shipping, lines=tuple(lines))


def shopper_of(request: CheckoutRequest, used_on_campaign: int, has_redeemed: bool) -> Shopper:
    email = request.customer_email
    # The same trimmed id everywhere: allowlist, limits, first orders.
    customer_id = request.customer_id.strip() if request.customer_id else None
    return Shopper(
        customer_id=customer_id or None,
        customer_key=customer_key(request.customer_id, email),
        email_key=canonical_email(email) if email else None,
        first_order=request.first_order,
        used_on_campaign=used_on_campaign,
        has_redeemed=has_redeemed,
    )


async def validate(
    reads: Autocommit, request: CheckoutRequest, *, now: datetime, usage_first: bool = False
) -> tuple[Offer | None, Accepted | Refused]:
    """Decide for one checkout; consumes nothing. ``usage_first``: see ``decide``."""
    canonical = canonical_or_invalid(request.code)
    cart = cart_of(request)
    key = customer_key(request.customer_id, request.customer_email)
    offer, used_on_campaign, has_redeemed = await load_offer(reads, canonical, key)
    shopper = shopper_of(request, used_on_campaign, has_redeemed)
    return offer, decide(offer, shopper, cart, now, usage_first=usage_first)
