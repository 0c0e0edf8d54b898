"""Is this code good for this cart, and for how much? Read-only; redemptions
ask the same question first (``order_id`` set) before they consume."""

from __future__ import annotations

from datetime import datetime

from promo.campaigns.discount import Cart, CartLine
from promo.checkout.eligibility import Accepted, Offer, Refused, Shopper, decide
from promo.checkout.offers import load_offer
from promo.checkout.schemas import CartIn, CheckoutRequest
from promo.codes.service import canonical_or_invalid
from promo.db.autocommit import Autocommit
from promo.errors import Invalid
from promo.identity import Identity, NotAnEmail, identify
from promo.money import MAX_AMOUNT, is_currency
from promo.pii import Keyring


def cart_of(cart: CartIn) -> Cart:
    """The engine's cart; rejects what the schema cannot see (422 naming the field)."""
    if not is_currency(cart.currency):
        raise Invalid.field("cart.currency", f"unknown ISO 4217 currency {cart.currency!r}")
    lines: list[CartLine] = []
    seen: set[str] = set()
    subtotal = 0
    for index, item in enumerate(cart.items):
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
    return Cart(currency=cart.currency, shipping=cart.shipping, lines=tuple(lines))


def identity_of(request: CheckoutRequest, keyring: Keyring) -> Identity:
    """The shopper's refs; 422 naming ``customer_email`` when it is no address."""
    return identity_or_invalid(keyring, request.customer_id, request.customer_email)


def identity_or_invalid(
    keyring: Keyring, customer_id: str | None, customer_email: str | None
) -> Identity:
    """An identity as a request gives it; 422 naming ``customer_email`` when it is no address."""
    try:
        return identify(keyring, customer_id, customer_email)
    except NotAnEmail as exc:
        raise Invalid.field("customer_email", f"not an e-mail address: {exc}") from None


async def validate(
    reads: Autocommit,
    request: CheckoutRequest,
    identity: Identity,
    *,
    now: datetime,
    usage_first: bool = False,
    order_id: str | None = None,
    consuming: bool = False,
) -> tuple[Offer | None, Shopper, Accepted | Refused]:
    """Decide for one checkout; consumes nothing. ``usage_first``, ``consuming``:
    see ``decide``; ``order_id``: a redemption's order, refused when it already has one.
    ``identity``: ``identity_of(request, keyring)``, which the caller's throttle needed first."""
    canonical = canonical_or_invalid(request.code)
    return await decide_code(
        reads,
        canonical,
        cart_of(request.cart),
        identity,
        first_order=request.first_order,
        now=now,
        usage_first=usage_first,
        order_id=order_id,
        consuming=consuming,
    )


async def decide_code(
    reads: Autocommit,
    canonical: str,
    cart: Cart,
    identity: Identity,
    *,
    first_order: bool,
    now: datetime,
    usage_first: bool = False,
    order_id: str | None = None,
    consuming: bool = False,
) -> tuple[Offer | None, Shopper, Accepted | Refused]:
    """The code spelled ``canonical`` decided for this cart and shopper, with
    what promo holds about them: every checkout's one question."""
    offer, held = await load_offer(reads, canonical, identity, order_id, now=now)
    shopper = Shopper(
        identity=identity,
        first_order=first_order,
        used_on_campaign=held.used_on_campaign,
        has_redeemed=held.has_redeemed,
        order_taken=held.order_taken,
    )
    decision = decide(offer, shopper, cart, now, usage_first=usage_first, consuming=consuming)
    return offer, shopper, decision
