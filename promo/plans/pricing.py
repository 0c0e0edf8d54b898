"""Commission arithmetic (pure): what a sale earns under a plan, and what refunds take back.

A plan (promo.plans stores them; an inline campaign or affiliate commission
is a plan with a percentage and a fixed part only) prices one sale so:

1. The sale's **base rate** is the plan's ``percent``, or, with volume tiers,
   the ``percent`` of the highest tier reached: the tiers' basis is ``sales``
   (the number of the affiliate's sales priced by this plan in the period,
   *this one included*) or ``revenue`` (their net amounts, this one included),
   and a tier is reached when that figure is at least its ``threshold``. The
   period is the calendar month, in the plan's timezone, in which the sale is
   made; the figures are those of the sales recorded when this one is priced
   (two sales priced at the same instant may both see the same figures), and a
   full rollback takes its sale out of them. A tier never reprices earlier
   sales.
2. Each eligible line's **rate** is the highest ``category_rates`` entry among
   its categories, or the base rate when none of them has one.
3. The percentage part is ``round_half_up(sum(net line x rate) / 100)``: the
   lines' exact products summed, rounded once; it is split back over the lines
   by largest remainder (weights: the exact products), so the lines' parts sum
   exactly to it. Net lines are the eligible lines after discount (shipping
   excluded); their sum is the order amount.
4. Commission = percentage part + the plan's ``fixed`` part per sale (hybrid
   when both).

A partial refund shrinks the percentage part by the refunded share:
``round_half_up(percentage x refunded so far / order amount)`` is taken back,
computed on the cumulative refund so that repeated refunds never drift, the
rule that also gives the budget back its share of the discount. Each refund's
entry is the new target less what the redemption's entries already add up to;
the fixed part goes only with the full rollback, which reverses all of it.

A plan's one-off **bonus** is due for a period when the affiliate's figure on
its basis reached its threshold by the period's end (``bonus_due``); its
``action_fees`` price conversions without an order (``fee_for``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

from promo.money import div_round_half_up, split_largest_remainder

Basis = Literal["sales", "revenue"]


class Tier(msgspec.Struct, frozen=True):
    """From ``threshold`` (sales or minor units of revenue in the period) on, ``percent``."""

    threshold: int
    percent: Decimal


class Tiers(msgspec.Struct, frozen=True):
    basis: Basis
    levels: tuple[Tier, ...]  # thresholds strictly increasing


class Bonus(msgspec.Struct, frozen=True):
    """``amount`` once per period when the affiliate's figure reaches ``threshold``."""

    basis: Basis
    threshold: int
    amount: int


class Plan(msgspec.Struct, frozen=True):
    """How sales and actions are priced. ``plan_id``/``revision`` name a stored
    plan (None for an inline commission), recorded beside what it priced."""

    percent: Decimal | None = None
    fixed: int | None = None
    category_rates: Mapping[str, Decimal] = msgspec.field(default_factory=dict)
    tiers: Tiers | None = None
    bonus: Bonus | None = None
    action_fees: Mapping[str, int] = msgspec.field(default_factory=dict)
    timezone: str = "UTC"
    plan_id: int | None = None
    revision: int | None = None

    @property
    def counts_periods(self) -> bool:
        """Whether its sales are counted per period (tiers or a bonus need them)."""
        return self.tiers is not None or self.bonus is not None


class Standing(msgspec.Struct, frozen=True):
    """The affiliate's figures in the current period, before the sale being priced;
    ``counted``: the period has its row already."""

    sales: int = 0
    revenue: int = 0
    counted: bool = False


FIRST_SALE = Standing()


class NetLine(msgspec.Struct, frozen=True):
    """One eligible line after discount."""

    line_id: str
    net: int
    categories: tuple[str, ...] = ()


class LineCommission(msgspec.Struct, frozen=True):
    line_id: str
    percent: Decimal | None
    amount: int


class Pricing(msgspec.Struct, frozen=True):
    """What a sale earns: ``total`` = the lines' parts + ``fixed``; ``percent``
    is the base rate (after tiers), ``tier`` the 1-based tier reached (0: none)."""

    total: int
    fixed: int
    percent: Decimal | None
    tier: int
    lines: tuple[LineCommission, ...]


NOTHING = Pricing(total=0, fixed=0, percent=None, tier=0, lines=())


class Period(msgspec.Struct, frozen=True):
    """A calendar month in a plan's timezone: ``key`` ``YYYY-MM``, UTC bounds."""

    key: str
    starts_at: datetime
    ends_at: datetime


def period_of(now: datetime, timezone: str) -> Period:
    """The calendar month in ``timezone`` that contains ``now``."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    start = datetime(local.year, local.month, 1, tzinfo=zone)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    end = datetime(year, month, 1, tzinfo=zone)
    return Period(
        key=f"{local.year:04d}-{local.month:02d}",
        starts_at=start.astimezone(UTC),
        ends_at=end.astimezone(UTC),
    )


def effective_plan(affiliate: Plan, campaign: Plan) -> Plan:
    """Inline commissions: the affiliate's override where it sets a value, else
    the campaign's default."""
    return Plan(
        percent=affiliate.percent if affiliate.percent is not None else campaign.percent,
        fixed=affiliate.fixed if affiliate.fixed is not None else campaign.fixed,
    )


def applicable_plan(
    *,
    currency: str,
    affiliate_plan: Plan | None,
    affiliate_plan_currency: str | None,
    affiliate_inline: Plan,
    campaign_plan: Plan | None,
    campaign_inline: Plan,
) -> Plan:
    """The terms that price an affiliate's sale on a campaign in ``currency``: the
    affiliate's own plan when it prices that currency; else its own percent/fixed
    override when it has one (over the campaign's inline terms, field by field);
    else the campaign's plan; else the campaign's percent and fixed. (A campaign
    with a plan has no inline terms: the API refuses both.)"""
    if affiliate_plan is not None and affiliate_plan_currency == currency:
        return affiliate_plan
    overrides = affiliate_inline.percent is not None or affiliate_inline.fixed is not None
    if campaign_plan is not None and not overrides:
        return campaign_plan
    return effective_plan(affiliate_inline, campaign_inline)


def figure(basis: Basis, standing: Standing, order_amount: int) -> int:
    """The affiliate's figure on ``basis`` with this sale counted."""
    return standing.sales + 1 if basis == "sales" else standing.revenue + order_amount


def base_rate(plan: Plan, standing: Standing, order_amount: int) -> tuple[Decimal | None, int]:
    """(the base rate, the 1-based tier reached or 0) for a sale of ``order_amount``."""
    if plan.tiers is None:
        return plan.percent, 0
    reached = figure(plan.tiers.basis, standing, order_amount)
    rate, tier = plan.percent, 0
    for number, level in enumerate(plan.tiers.levels, start=1):
        if reached >= level.threshold:
            rate, tier = level.percent, number
    return rate, tier


def line_rate(plan: Plan, base: Decimal | None, categories: Sequence[str]) -> Decimal | None:
    """The highest category rate among ``categories``, else ``base``."""
    rates = [plan.category_rates[c] for c in categories if c in plan.category_rates]
    return max(rates) if rates else base


def _hundredths(percent: Decimal | None) -> int:
    """A contract percentage (0 <= p <= 100, two places) in hundredths of a percent."""
    if percent is None:
        return 0
    hundredths = percent * 100
    if hundredths != hundredths.to_integral_value() or not 0 <= hundredths <= 10_000:
        raise ValueError(f"percent must be in [0, 100] with two decimals, got {percent}")
    return int(hundredths)


def price(plan: Plan, lines: Sequence[NetLine], standing: Standing = FIRST_SALE) -> Pricing:
    """What a sale of ``lines`` earns under ``plan`` (the rules in the module doc)."""
    order_amount = sum(line.net for line in lines)
    base, tier = base_rate(plan, standing, order_amount)
    rates = [line_rate(plan, base, line.categories) for line in lines]
    # Exact products in 1/10,000 of a minor unit: net x hundredths of a percent.
    weights = [line.net * _hundredths(rate) for line, rate in zip(lines, rates, strict=True)]
    percentage = div_round_half_up(sum(weights), 100 * 100)
    parts = split_largest_remainder(percentage, weights) if lines else []
    fixed = plan.fixed or 0
    return Pricing(
        total=percentage + fixed,
        fixed=fixed,
        percent=base,
        tier=tier,
        lines=tuple(
            LineCommission(line_id=line.line_id, percent=rate, amount=part)
            for line, rate, part in zip(lines, rates, parts, strict=True)
        ),
    )


def commission_for(order_amount: int, plan: Plan) -> tuple[int, int]:
    """(total commission, its fixed part) for a net order amount on one line."""
    pricing = price(plan, [NetLine(line_id="order", net=order_amount)])
    return pricing.total, pricing.fixed


def bonus_due(plan: Plan, standing: Standing) -> int:
    """The plan's bonus for a period that ended with the affiliate at ``standing``."""
    bonus = plan.bonus
    if bonus is None:
        return 0
    reached = standing.sales if bonus.basis == "sales" else standing.revenue
    return bonus.amount if reached >= bonus.threshold else 0


def fee_for(plan: Plan, kind: str) -> int | None:
    """The plan's fee for one conversion of ``kind``, or None when it pays none."""
    return plan.action_fees.get(kind)


def share(amount: int, part: int, whole: int) -> int:
    """``amount * part / whole`` rounded half up; the share of a refund."""
    if whole == 0:
        return 0
    return div_round_half_up(amount * part, whole)


def commission_after_refund(
    commission: int, fixed: int, order_amount: int, refunded_total: int
) -> int:
    """What the redemption's commission is worth once ``refunded_total`` of the
    order has been refunded (not yet fully): less the refunded share of the
    percentage part, rounded half up."""
    percentage = commission - fixed
    return commission - share(percentage, refunded_total, order_amount)
