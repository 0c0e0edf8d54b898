"""HTTP shapes of campaigns (API.md "Campaigns")."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from promo.errors import StructFieldError
from promo.money import MAX_QUANTITY
from promo.schemas import NO_NUL, CustomerRef, Schema
from promo.schemas import Amount as Amount  # re-exported: checkout imports it from here
from promo.schemas import Currency as Currency
from promo.schemas import Name as Name
from promo.schemas import Percent as Percent
from promo.schemas import PositiveAmount as PositiveAmount
from promo.schemas import Token as Token
from promo.schemas import check_reach as check_reach

Count = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
Instant = Annotated[datetime, msgspec.Meta(tz=True, description="RFC 3339 with offset")]
TokenList = Annotated[list[Token], msgspec.Meta(max_length=1000)]
CodePrefix = Annotated[str, msgspec.Meta(pattern="^[A-Za-z0-9]{1,12}$")]
Status = Literal["draft", "active", "paused", "archived"]
CustomerIds = Annotated[
    list[Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=NO_NUL)]],
    msgspec.Meta(max_length=10_000),
]
CustomerRefs = Annotated[list[CustomerRef], msgspec.Meta(max_length=10_000)]


def check_instant(field: str, value: datetime | UnsetType | None) -> None:
    """Refuse an instant that has no UTC form (year 1 at +10:00, year 9999 at -10:00):
    every instant is stored in UTC."""
    if isinstance(value, datetime):
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise StructFieldError(field, "must lie between years 1 and 9999 in UTC") from None


Allocation = Annotated[
    Literal["across", "each"],
    msgspec.Meta(
        description="across: one amount spread over the eligible lines; each: per "
        "eligible unit (at most max_quantity units, the cheapest first)"
    ),
]
MaxQuantity = Annotated[
    int,
    msgspec.Meta(
        ge=1,
        le=MAX_QUANTITY,
        description="allocation each: at most this many units, the cheapest first",
    ),
]
ItemCount = Annotated[int, msgspec.Meta(ge=1, le=1000)]


def check_allocation(allocation: str, max_quantity: int | None) -> None:
    if max_quantity is not None and allocation != "each":
        raise StructFieldError("max_quantity", "only with allocation each")


class Percentage(Schema, tag="percentage", tag_field="type"):
    """``percent_off`` of the eligible subtotal, at most ``max_discount``; with
    ``allocation: each`` and ``max_quantity``, of the cheapest units only."""

    percent_off: Percent
    max_discount: PositiveAmount | None = None
    allocation: Allocation = "across"
    max_quantity: MaxQuantity | None = None

    def __post_init__(self) -> None:
        check_reach("percent_off", self.percent_off)
        check_allocation(self.allocation, self.max_quantity)


class FixedAmount(Schema, tag="fixed_amount", tag_field="type"):
    """``amount_off`` spread over the eligible lines (``across``) or off each
    eligible unit (``each``, at most ``max_quantity`` units, the cheapest first)."""

    amount_off: PositiveAmount
    currency: Currency | None = None
    allocation: Allocation = "across"
    max_quantity: MaxQuantity | None = None

    def __post_init__(self) -> None:
        check_allocation(self.allocation, self.max_quantity)


class FreeShipping(Schema, tag="free_shipping", tag_field="type"):
    pass


class ItemSet(Schema):
    """Cart items by sku or category: an item is in the set when either matches."""

    skus: TokenList = msgspec.field(default_factory=list)
    categories: TokenList = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.skus and not self.categories:
            raise StructFieldError("skus", "give skus or categories (or both)")


class BuyXGetY(Schema, tag="buy_x_get_y", tag_field="type"):
    """Buy ``buy_quantity`` items of ``buy``, get ``get_quantity`` items of ``get``
    at ``percent_off`` (100: free), the cheapest first, at most
    ``max_applications`` times per order. An item in both sets plays one part:
    a get item is never also a buy item."""

    buy: ItemSet
    get: ItemSet
    buy_quantity: ItemCount
    get_quantity: ItemCount
    percent_off: Percent
    max_applications: Annotated[int, msgspec.Meta(ge=1, le=MAX_QUANTITY)] = 1

    def __post_init__(self) -> None:
        check_reach("percent_off", self.percent_off)


class Gift(Schema, tag="gift", tag_field="type"):
    """``quantity`` items of ``sku`` free once the other eligible items reach
    ``threshold``; the checkout answer's ``discount.gift`` says what to add."""

    sku: Token
    threshold: PositiveAmount
    quantity: ItemCount = 1


class Tier(Schema):
    """From ``threshold`` (eligible subtotal), ``amount_off`` or ``percent_off``."""

    threshold: PositiveAmount
    amount_off: PositiveAmount | None = None
    percent_off: Percent | None = None

    def __post_init__(self) -> None:
        check_reach("percent_off", self.percent_off)
        if (self.amount_off is None) == (self.percent_off is None):
            raise StructFieldError("amount_off", "give amount_off or percent_off (one of them)")


class Tiered(Schema, tag="tiered", tag_field="type"):
    """Spend thresholds, increasing; the highest one the eligible subtotal reaches applies."""

    tiers: Annotated[list[Tier], msgspec.Meta(min_length=1, max_length=10)]

    def __post_init__(self) -> None:
        for index in range(1, len(self.tiers)):
            if self.tiers[index].threshold <= self.tiers[index - 1].threshold:
                raise StructFieldError(
                    f"tiers[{index}].threshold", "must be above the previous tier's threshold"
                )


DiscountSpec = Percentage | FixedAmount | FreeShipping | BuyXGetY | Gift | Tiered


class Rules(Schema):
    min_subtotal: PositiveAmount | None = None
    min_quantity: Count | None = None
    include_skus: TokenList = msgspec.field(default_factory=list)
    include_categories: TokenList = msgspec.field(default_factory=list)
    exclude_skus: TokenList = msgspec.field(default_factory=list)
    exclude_categories: TokenList = msgspec.field(default_factory=list)
    first_order_only: bool = False
    # The allow-list: only these customers may use the campaign. Given as
    # customer ids (hashed on arrival, never stored nor answered: always empty
    # in answers) or as customer_refs (as answered: the stored form).
    customer_ids: CustomerIds = msgspec.field(default_factory=list)
    customer_refs: CustomerRefs = msgspec.field(default_factory=list)


class Limits(Schema):
    max_redemptions: Count | None = None
    max_redemptions_per_customer: Count | None = None
    budget: PositiveAmount | None = None


PlanId = Annotated[
    str,
    msgspec.Meta(
        max_length=40,
        description="A commission plan (/v1/commission-plans) that prices the sales, "
        "instead of percent and fixed",
    ),
]


class Commission(Schema):
    percent: Percent | None = None
    fixed: Amount | None = None
    plan_id: PlanId | None = None

    def __post_init__(self) -> None:
        check_reach("percent", self.percent)


class CombinesWithSpec(Schema):
    """The classes of the other discounts this campaign's discount stacks with on
    one order (promo.campaigns.stacking): none unless set."""

    order: bool = False
    product: bool = False
    shipping: bool = False


Priority = Annotated[
    int,
    msgspec.Meta(
        ge=-1000, le=1000, description="Higher first, when several discounts apply to one order"
    ),
]


class StackingTerms(Schema):
    """How this campaign's discount stacks with others on one order. A discount's
    class: ``shipping`` for free shipping; ``product`` for one on chosen items
    (rules that include SKUs or categories, buy X get Y, a gift, an amount off
    each item); ``order`` otherwise. ``exclusive``: it stacks with
    nothing, whatever ``combines_with`` says."""

    combines_with: CombinesWithSpec = msgspec.field(default_factory=CombinesWithSpec)
    exclusive: bool = False
    priority: Priority = 0


# The sections' merge patches (RFC 7396, promo.campaigns.merge): each field of the
# section, UNSET when absent, None to remove it (back to its default).
TokenListPatch = TokenList | UnsetType | None


class RulesPatch(Schema):
    min_subtotal: PositiveAmount | UnsetType | None = UNSET
    min_quantity: Count | UnsetType | None = UNSET
    include_skus: TokenListPatch = UNSET
    include_categories: TokenListPatch = UNSET
    exclude_skus: TokenListPatch = UNSET
    exclude_categories: TokenListPatch = UNSET
    first_order_only: bool | UnsetType | None = UNSET
    # Either replaces the whole allow-list (both: their union).
    customer_ids: CustomerIds | UnsetType | None = UNSET
    customer_refs: CustomerRefs | UnsetType | None = UNSET


class StackingPatch(Schema):
    combines_with: CombinesWithSpec | UnsetType | None = UNSET
    exclusive: bool | UnsetType | None = UNSET
    priority: Priority | UnsetType | None = UNSET


class LimitsPatch(Schema):
    max_redemptions: Count | UnsetType | None = UNSET
    max_redemptions_per_customer: Count | UnsetType | None = UNSET
    budget: PositiveAmount | UnsetType | None = UNSET


class CommissionPatch(Schema):
    percent: Percent | UnsetType | None = UNSET
    fixed: Amount | UnsetType | None = UNSET
    plan_id: PlanId | UnsetType | None = UNSET

    def __post_init__(self) -> None:
        check_reach("percent", self.percent if isinstance(self.percent, Decimal) else None)


CampaignKind = Literal["standard", "referral"]
Days = Annotated[int, msgspec.Meta(ge=0, le=3650)]


class ReferralTerms(Schema):
    """A referral program's terms (campaigns of kind ``referral``). Its codes are
    referrers' personal codes (``POST /v1/referrals``); a friend gets the
    campaign's discount on a first order; when that redemption has stood for
    ``holding_days`` without being rolled back, the referrer is rewarded once:
    a single-use code of ``reward_campaign_id`` bound to the referrer, valid
    ``reward_valid_days``, or a credit of ``reward_credit`` (minor units of the
    campaign's currency); at most ``max_rewards_per_referrer`` times."""

    reward_campaign_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    reward_credit: PositiveAmount | None = None
    reward_valid_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 90
    max_rewards_per_referrer: Count | None = None
    holding_days: Days = 30


MaxAliases = Annotated[
    int,
    msgspec.Meta(ge=1, le=1000, description="Aliases one affiliate may hold in this campaign"),
]
AffiliateAliases = Annotated[
    bool,
    msgspec.Meta(
        description="Affiliates may add aliases (codes beginning with the code_prefix, "
        "outside every batch pattern's space); needs a code_prefix"
    ),
]


class CampaignCreate(Schema):
    name: Name
    currency: Currency
    starts_at: Instant
    discount: DiscountSpec
    kind: CampaignKind = "standard"
    """``referral``: a two-sided referral program (needs ``referral``); fixed at creation."""
    referral: ReferralTerms | None = None
    status: Literal["draft", "active", "paused"] = "draft"
    ends_at: Instant | None = None
    timezone: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    code_prefix: CodePrefix | None = None
    open_to_affiliates: bool = False
    affiliate_aliases: AffiliateAliases = False
    max_aliases_per_affiliate: MaxAliases = 1
    rules: Rules = msgspec.field(default_factory=Rules)
    limits: Limits = msgspec.field(default_factory=Limits)
    commission: Commission = msgspec.field(default_factory=Commission)
    stacking: StackingTerms = msgspec.field(default_factory=StackingTerms)
    automatic: bool = False
    """Applies without a code to every cart that qualifies (an automatic
    promotion), on its stacking terms; fixed at creation."""

    def __post_init__(self) -> None:
        check_instant("starts_at", self.starts_at)
        check_instant("ends_at", self.ends_at)


class CampaignPatch(Schema):
    """Only the fields sent change; ``null`` clears an optional field. ``rules``,
    ``limits``, ``commission`` and ``stacking`` are merge patches (RFC 7396): only their keys
    sent change, ``null`` removes one (``null`` for the section resets all of it);
    ``discount`` is replaced whole."""

    name: Name | UnsetType = UNSET
    status: Status | UnsetType = UNSET
    currency: Currency | UnsetType = UNSET
    starts_at: Instant | UnsetType = UNSET
    ends_at: Instant | UnsetType | None = UNSET
    timezone: Annotated[str, msgspec.Meta(max_length=64)] | UnsetType | None = UNSET
    code_prefix: CodePrefix | UnsetType | None = UNSET
    open_to_affiliates: bool | UnsetType = UNSET
    affiliate_aliases: AffiliateAliases | UnsetType = UNSET
    max_aliases_per_affiliate: MaxAliases | UnsetType = UNSET
    discount: DiscountSpec | UnsetType = UNSET
    rules: RulesPatch | UnsetType | None = UNSET
    limits: LimitsPatch | UnsetType | None = UNSET
    commission: CommissionPatch | UnsetType | None = UNSET
    stacking: StackingPatch | UnsetType | None = UNSET
    referral: ReferralTerms | UnsetType = UNSET
    """A referral campaign's terms, replaced whole."""

    def __post_init__(self) -> None:
        check_instant("starts_at", self.starts_at)
        check_instant("ends_at", self.ends_at)


class Usage(Schema):
    redemptions: int
    budget_used: int


class CampaignRead(Schema):
    id: str
    name: str
    kind: CampaignKind
    status: Status
    currency: str
    starts_at: datetime
    ends_at: datetime | None
    timezone: str | None
    code_prefix: str | None
    open_to_affiliates: bool
    affiliate_aliases: bool
    max_aliases_per_affiliate: int
    discount: DiscountSpec
    rules: Rules
    limits: Limits
    commission: Commission
    stacking: StackingTerms
    automatic: bool
    referral: ReferralTerms | None
    usage: Usage
    created_at: datetime
    updated_at: datetime


class CampaignPage(Schema):
    items: list[CampaignRead]
    next_cursor: str | None


class OpenCampaign(Schema):
    """What an affiliate sees of a campaign open to affiliates: no customer allowlist,
    no limits or usage; the commission is the one that applies to this affiliate."""

    id: str
    name: str
    currency: str
    starts_at: datetime
    ends_at: datetime | None
    timezone: str | None
    code_prefix: str | None
    affiliate_aliases: bool
    """Whether this affiliate may add aliases (beginning with the code_prefix)."""
    max_aliases_per_affiliate: int
    discount: DiscountSpec
    min_subtotal: int | None
    min_quantity: int | None
    include_skus: list[str]
    include_categories: list[str]
    exclude_skus: list[str]
    exclude_categories: list[str]
    first_order_only: bool
    commission: Commission


class OpenCampaignPage(Schema):
    items: list[OpenCampaign]
    next_cursor: str | None
