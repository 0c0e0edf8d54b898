"""HTTP shapes of checkout: carts, validations (and later redemptions)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar.params import QueryParameter

from promo.campaigns.schemas import Currency, Token
from promo.codes.schemas import CodeText
from promo.money import MAX_AMOUNT
from promo.pii import REF_PATTERN
from promo.schemas import NO_NUL, Amount, CustomerRef, Schema

MAX_CART_ITEMS = 1000
Quantity = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
LineId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=NO_NUL)]
CustomerId = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=NO_NUL)]
CustomerEmail = Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=NO_NUL)]
OrderId = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=NO_NUL)]
# A customer named in a query (a customer's redemptions, its personal data).
CustomerRefQuery = Annotated[
    str | None, QueryParameter(pattern=REF_PATTERN, description="A customer_ref as answered")
]
CustomerIdQuery = Annotated[
    str | None, QueryParameter(min_length=1, max_length=128, pattern=NO_NUL)
]
CustomerEmailQuery = Annotated[
    str | None, QueryParameter(min_length=3, max_length=254, pattern=NO_NUL)
]


class CartItem(Schema):
    sku: Token
    quantity: Quantity
    unit_price: Amount
    line_id: LineId | None = None
    categories: Annotated[list[Token], msgspec.Meta(max_length=50)] = msgspec.field(
        default_factory=list
    )


class CartIn(Schema):
    currency: Currency
    items: Annotated[list[CartItem], msgspec.Meta(min_length=1, max_length=MAX_CART_ITEMS)]
    shipping: Amount = 0


class CheckoutRequest(Schema):
    code: CodeText
    cart: CartIn
    customer_id: CustomerId | None = None
    customer_email: CustomerEmail | None = None
    first_order: bool = False
    client_ip: Annotated[str, msgspec.Meta(max_length=45)] | None = None


class LineOut(Schema):
    line_id: str
    sku: str
    amount: int


class GiftOut(Schema):
    """A gift the campaign gives (discount kind ``gift``): the cart should hold
    ``quantity`` items of ``sku``. ``in_cart`` of them are there and ``amount``
    is their discount (also in ``lines``); the checkout adds the others at
    their price and validates again, so that they are discounted too."""

    sku: str
    quantity: int
    in_cart: int
    amount: int


class DiscountOut(Schema):
    total: int
    shipping: int
    lines: list[LineOut]
    gift: GiftOut | None = None


class ValidationResult(Schema):
    valid: bool
    code: str | None
    campaign_id: str | None
    reason: str | None
    message: str | None = None
    details: dict[str, Any] | None = None
    discount: DiscountOut | None = None


class QualificationRequest(Schema):
    """A cart and its customer: which of the customer's own codes would apply."""

    cart: CartIn
    customer_id: CustomerId | None = None
    customer_email: CustomerEmail | None = None
    first_order: bool = False


class QualifiedCode(Schema):
    code: str
    campaign_id: str
    discount: DiscountOut


class QualificationResult(Schema):
    """The customer's own codes (bound to it: rewards, apologies, win-backs,
    referral rewards) that would apply to this cart, best value first. Nothing
    is consumed: redeem one as any code."""

    codes: list[QualifiedCode]


class RedeemRequest(CheckoutRequest, kw_only=True):
    order_id: OrderId


# A reservation's time to live: 15 minutes unless asked, at most a day.
DEFAULT_TTL_SECONDS = 900
MAX_TTL_SECONDS = 86_400


class ReserveRequest(CheckoutRequest, kw_only=True):
    ttl_seconds: Annotated[int, msgspec.Meta(ge=1, le=MAX_TTL_SECONDS)] = DEFAULT_TTL_SECONDS


class ConfirmRequest(Schema):
    order_id: OrderId


ReservationStatus = Literal["held", "confirmed", "released", "expired"]


class ReservationRead(Schema):
    """A held discount: what it takes off (per line, as a validation answers),
    until when; once confirmed, the order and the redemption it became."""

    id: str
    code: str
    campaign_id: str
    affiliate_id: str | None
    customer_ref: CustomerRef | None
    currency: str
    discount: DiscountOut
    status: ReservationStatus
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None
    order_id: str | None = None
    redemption_id: str | None = None


class ReservationPage(Schema):
    items: list[ReservationRead]
    next_cursor: str | None


class RollbackRequest(Schema):
    amount: Annotated[int, msgspec.Meta(ge=1, le=MAX_AMOUNT)] | None = None
    reason: Annotated[str, msgspec.Meta(max_length=500, pattern=NO_NUL)] | None = None


class RedemptionRead(Schema):
    id: str
    code: str
    campaign_id: str
    affiliate_id: str | None
    # The customer as promo holds it: a keyed hash, never the id or e-mail.
    customer_ref: CustomerRef | None
    order_id: str
    currency: str
    order_amount: int
    discount: DiscountOut
    commission: int
    refunded_amount: int
    status: Literal["active", "partially_refunded", "rolled_back"]
    created_at: datetime
    rolled_back_at: datetime | None


class RedemptionPage(Schema):
    items: list[RedemptionRead]
    next_cursor: str | None


class AffiliateRedemption(Schema):
    """What an affiliate may see of a sale it brought: no customer data."""

    id: str
    code: str
    campaign_id: str
    order_id: str
    currency: str
    order_amount: int
    discount_total: int
    commission: int
    refunded_amount: int
    status: Literal["active", "partially_refunded", "rolled_back"]
    created_at: datetime


class AffiliateRedemptionPage(Schema):
    items: list[AffiliateRedemption]
    next_cursor: str | None
