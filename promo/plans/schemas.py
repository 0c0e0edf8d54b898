"""HTTP shapes of commission plans (``/v1/commission-plans``).

The pricing rules are promo.plans.pricing's; these are their edge forms.
Percentages are the contract's (0 <= p <= 100, two places); amounts are minor
units of the plan's currency.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from promo.money import MAX_AMOUNT
from promo.schemas import (
    Amount,
    Currency,
    Name,
    Percent,
    PositiveAmount,
    Schema,
    Token,
    check_reach,
)

Basis = Literal["sales", "revenue"]
Threshold = Annotated[
    int,
    msgspec.Meta(ge=1, le=MAX_AMOUNT, description="Sales in the period, or minor units of revenue"),
]
ActionKind = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[a-z][a-z0-9_]{0,31}$",
        description="A conversion kind: lead, signup, install, assist or your own",
    ),
]
Timezone = Annotated[
    str, msgspec.Meta(min_length=1, max_length=64, description="IANA timezone of the periods")
]
CategoryRates = Annotated[
    dict[Token, Percent],
    msgspec.Meta(
        max_length=200,
        description="Rate per product category, for the eligible lines in it "
        "(a line in several: the highest); other lines earn the base rate",
    ),
]
ActionFees = Annotated[
    dict[ActionKind, Amount],
    msgspec.Meta(max_length=50, description="Fee per conversion of each kind, in minor units"),
]


class TierSpec(Schema):
    threshold: Threshold
    percent: Percent

    def __post_init__(self) -> None:
        check_reach("percent", self.percent)


class TiersSpec(Schema):
    """Volume tiers: the sale's base rate is the ``percent`` of the highest tier
    whose ``threshold`` the affiliate's figure in the period (this sale included)
    reaches; below the first, the plan's ``percent``."""

    basis: Basis
    levels: Annotated[list[TierSpec], msgspec.Meta(min_length=1, max_length=20)]


class BonusSpec(Schema):
    """A one-off ``amount`` for a period in which the figure reached ``threshold``."""

    basis: Basis
    threshold: Threshold
    amount: PositiveAmount


class CommissionPlanCreate(Schema):
    name: Name
    currency: Currency
    timezone: Timezone = "UTC"
    percent: Percent | None = None
    fixed: Amount | None = None
    category_rates: CategoryRates = msgspec.field(default_factory=dict)
    tiers: TiersSpec | None = None
    bonus: BonusSpec | None = None
    action_fees: ActionFees = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        check_reach("percent", self.percent)


class CommissionPlanPatch(Schema):
    """Only the fields sent change (``null`` clears an optional one); each change
    is a new revision, which prices the sales made after it. The currency stays."""

    name: Name | UnsetType = UNSET
    timezone: Timezone | UnsetType = UNSET
    percent: Percent | UnsetType | None = UNSET
    fixed: Amount | UnsetType | None = UNSET
    category_rates: CategoryRates | UnsetType | None = UNSET
    tiers: TiersSpec | UnsetType | None = UNSET
    bonus: BonusSpec | UnsetType | None = UNSET
    action_fees: ActionFees | UnsetType | None = UNSET

    def __post_init__(self) -> None:
        check_reach("percent", self.percent if not isinstance(self.percent, UnsetType) else None)


class PlanTerms(Schema):
    """The pricing terms as stored (one JSON document per revision)."""

    percent: Percent | None = None
    fixed: Amount | None = None
    category_rates: CategoryRates = msgspec.field(default_factory=dict)
    tiers: TiersSpec | None = None
    bonus: BonusSpec | None = None
    action_fees: ActionFees = msgspec.field(default_factory=dict)


class CommissionPlanRead(Schema):
    id: str
    name: str
    currency: str
    timezone: str
    revision: int
    """Bumped by each change; ledger entries record the revision that priced them."""
    percent: Percent | None
    fixed: int | None
    category_rates: dict[str, Percent]
    tiers: TiersSpec | None
    bonus: BonusSpec | None
    action_fees: dict[str, int]
    created_at: datetime
    updated_at: datetime


class CommissionPlanPage(Schema):
    items: list[CommissionPlanRead]
    next_cursor: str | None


class PlanRevisionRead(Schema):
    revision: int
    timezone: str
    terms: PlanTerms
    created_at: datetime


class PlanRevisionPage(Schema):
    items: list[PlanRevisionRead]
