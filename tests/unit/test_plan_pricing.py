"""Commission plans' math (promo.plans.pricing.price): per-category lines that
sum exactly, tier boundaries, periods in the plan's timezone, and refunds that
take back exactly what was credited."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from promo.plans.pricing import (
    Bonus,
    NetLine,
    Plan,
    Standing,
    Tier,
    Tiers,
    applicable_plan,
    bonus_due,
    commission_after_refund,
    fee_for,
    period_of,
    price,
)

percents = st.integers(min_value=0, max_value=10_000).map(lambda h: Decimal(h).scaleb(-2))
categories = st.sampled_from(["shoes", "tops", "sale", "gifts"])
nets = st.integers(min_value=0, max_value=10**9)
lines = st.lists(
    st.builds(
        NetLine,
        line_id=st.uuids().map(str),
        net=nets,
        categories=st.lists(categories, max_size=3).map(tuple),
    ),
    min_size=1,
    max_size=12,
)
category_rates = st.dictionaries(categories, percents, max_size=4)


@st.composite
def tier_schedules(draw: st.DrawFn) -> Tiers:
    thresholds = sorted(draw(st.sets(st.integers(1, 50), min_size=1, max_size=4)))
    return Tiers(
        basis=draw(st.sampled_from(["sales", "revenue"])),
        levels=tuple(Tier(threshold=t, percent=draw(percents)) for t in thresholds),
    )


plans = st.builds(
    Plan,
    percent=st.none() | percents,
    fixed=st.none() | st.integers(0, 10**6),
    category_rates=category_rates,
    tiers=st.none() | tier_schedules(),
)
standings = st.builds(Standing, sales=st.integers(0, 60), revenue=st.integers(0, 60))


def half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def oracle_rate(plan: Plan, line: NetLine, base: Decimal | None) -> Fraction:
    rates = [plan.category_rates[c] for c in line.categories if c in plan.category_rates]
    rate = max(rates) if rates else base
    return Fraction(rate) if rate is not None else Fraction(0)


@given(plan=plans, sold=lines, standing=standings)
def test_the_lines_sum_exactly_to_the_rounded_exact_commission(
    plan: Plan, sold: list[NetLine], standing: Standing
) -> None:
    pricing = price(plan, sold, standing)
    exact = sum(
        (Fraction(line.net) * oracle_rate(plan, line, pricing.percent) / 100 for line in sold),
        Fraction(0),
    )
    parts = [line.amount for line in pricing.lines]
    assert sum(parts) == half_up(exact)
    assert pricing.total == sum(parts) + (plan.fixed or 0) == sum(parts) + pricing.fixed
    for line, part in zip(sold, parts, strict=True):
        share = Fraction(line.net) * oracle_rate(plan, line, pricing.percent) / 100
        assert part >= 0
        assert abs(part - share) < 2
    assert [line.line_id for line in pricing.lines] == [line.line_id for line in sold]


@given(plan=plans, net=nets)
def test_one_line_without_categories_is_the_round_one_rule(plan: Plan, net: int) -> None:
    plain = Plan(percent=plan.percent, fixed=plan.fixed)
    expected = half_up(Fraction(net) * Fraction(plan.percent or 0) / 100) + (plan.fixed or 0)
    assert price(plain, [NetLine(line_id="a", net=net)]).total == expected


@given(tiers=tier_schedules(), base=percents, net=st.integers(0, 100))
def test_the_tier_reached_is_the_highest_whose_threshold_the_figure_reaches(
    tiers: Tiers, base: Decimal, net: int
) -> None:
    plan = Plan(percent=base, tiers=tiers)
    sold = [NetLine(line_id="a", net=net)]
    for number, level in enumerate(tiers.levels, start=1):
        # The figure counts this sale: sales + 1, or revenue + this sale's net.
        before = level.threshold - 1 if tiers.basis == "sales" else level.threshold - net
        figures = (
            (lambda n: Standing(sales=n))
            if tiers.basis == "sales"
            else (lambda n: Standing(revenue=n))
        )
        if before >= 0:
            assert price(plan, sold, figures(before)).tier >= number
            assert price(plan, sold, figures(before + 1)).tier >= number
        if before >= 1:
            assert price(plan, sold, figures(before - 1)).tier == number - 1


def test_tier_boundaries_by_example() -> None:
    plan = Plan(
        percent=Decimal(5),
        tiers=Tiers(
            basis="sales",
            levels=(Tier(threshold=10, percent=Decimal(7)), Tier(threshold=50, percent=Decimal(9))),
        ),
    )
    line = [NetLine(line_id="a", net=10_000)]
    assert [price(plan, line, Standing(sales=s)).total for s in (0, 8, 9, 48, 49)] == [
        500,
        500,
        700,
        700,
        900,
    ]
    by_revenue = Plan(
        percent=Decimal(5),
        tiers=Tiers(basis="revenue", levels=(Tier(threshold=100_000, percent=Decimal(10)),)),
    )
    assert price(by_revenue, line, Standing(revenue=89_999)).total == 500
    assert price(by_revenue, line, Standing(revenue=90_000)).total == 1000


@given(plan=plans, sold=lines, refunds=st.lists(st.integers(1, 10**9), max_size=5))
def test_refunds_then_the_rollback_take_back_exactly_what_was_credited(
    plan: Plan, sold: list[NetLine], refunds: list[int]
) -> None:
    pricing = price(plan, sold)
    order_amount = sum(line.net for line in sold)
    credited = [pricing.total]  # the ledger: the redemption's entry, then each refund's
    refunded = 0
    for amount in refunds:
        if refunded + amount >= order_amount:
            break
        refunded += amount
        target = commission_after_refund(pricing.total, pricing.fixed, order_amount, refunded)
        credited.append(target - sum(credited))
        # What is left never goes below the fixed part, nor above what was credited.
        assert pricing.fixed <= sum(credited) <= pricing.total
    credited.append(0 - sum(credited))  # the full rollback reverses what is left
    assert sum(credited) == 0
    assert all(entry <= 0 for entry in credited[1:])


def test_periods_are_calendar_months_in_the_plans_timezone() -> None:
    paris = period_of(datetime(2026, 10, 31, 23, 30, tzinfo=UTC), "Europe/Paris")
    assert paris.key == "2026-11"  # 00:30 on 1 November in Paris
    assert paris.starts_at == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)  # CET, after the change
    assert paris.ends_at == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    march = period_of(datetime(2027, 3, 15, tzinfo=UTC), "Europe/Paris")
    assert march.ends_at - march.starts_at == timedelta(days=31, hours=-1)  # DST starts in March
    december = period_of(datetime(2026, 12, 31, 23, 59, tzinfo=UTC), "UTC")
    assert (december.key, december.ends_at) == ("2026-12", datetime(2027, 1, 1, tzinfo=UTC))


@given(
    now=st.datetimes(
        min_value=datetime(2001, 1, 1),  # noqa: DTZ001 (hypothesis wants naive bounds)
        max_value=datetime(2099, 1, 1),  # noqa: DTZ001
    )
)
def test_a_period_contains_the_instant_it_is_computed_for(now: datetime) -> None:
    instant = now.replace(tzinfo=UTC)
    for zone in ("UTC", "Europe/Paris", "America/Los_Angeles", "Asia/Kolkata"):
        period = period_of(instant, zone)
        assert period.starts_at <= instant < period.ends_at


def test_the_bonus_is_due_once_the_threshold_is_reached() -> None:
    plan = Plan(bonus=Bonus(basis="sales", threshold=20, amount=5000))
    assert [bonus_due(plan, Standing(sales=n)) for n in (0, 19, 20, 90)] == [0, 0, 5000, 5000]
    revenue = Plan(bonus=Bonus(basis="revenue", threshold=1_000_000, amount=10_000))
    assert bonus_due(revenue, Standing(sales=500, revenue=999_999)) == 0
    assert bonus_due(revenue, Standing(revenue=1_000_000)) == 10_000
    assert bonus_due(Plan(), Standing(sales=10**6)) == 0


def test_fees_per_action() -> None:
    plan = Plan(action_fees={"lead": 200, "assist": 1500})
    assert (fee_for(plan, "lead"), fee_for(plan, "assist"), fee_for(plan, "signup")) == (
        200,
        1500,
        None,
    )


def test_which_terms_price_an_affiliates_sale() -> None:
    own, campaign_plan = Plan(percent=Decimal(20), plan_id=1), Plan(percent=Decimal(5), plan_id=2)
    inline = Plan(percent=Decimal(10))
    choose = {
        "currency": "EUR",
        "affiliate_plan": own,
        "affiliate_plan_currency": "EUR",
        "affiliate_inline": Plan(),
        "campaign_plan": campaign_plan,
        "campaign_inline": Plan(),
    }
    assert applicable_plan(**choose) is own  # type: ignore[arg-type]
    assert applicable_plan(**{**choose, "affiliate_plan_currency": "USD"}) is campaign_plan  # type: ignore[arg-type]
    override = applicable_plan(**{**choose, "affiliate_plan": None, "affiliate_inline": inline})  # type: ignore[arg-type]
    assert override == Plan(percent=Decimal(10))
    assert applicable_plan(  # type: ignore[arg-type]
        **{**choose, "affiliate_plan": None, "campaign_plan": None, "campaign_inline": inline}
    ) == Plan(percent=Decimal(10))
