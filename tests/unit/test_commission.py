"""Commission arithmetic: plan overrides, commission on the net order, what refunds take back."""

from __future__ import annotations

import itertools
import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from promo.money import MAX_AMOUNT
from promo.plans.pricing import (
    Plan,
    commission_after_refund,
    commission_for,
    effective_plan,
    share,
)

amounts = st.integers(min_value=0, max_value=10**12)
order_amounts = st.integers(min_value=1, max_value=10**12)
# Every percentage the contract allows: 0.01 .. 100.00 in steps of 0.01.
percents = st.integers(min_value=1, max_value=10_000).map(lambda h: Decimal(h).scaleb(-2))
fixed_parts = st.integers(min_value=0, max_value=10**9)
plans = st.builds(Plan, percent=st.none() | percents, fixed=st.none() | fixed_parts)


def half_up(value: Fraction) -> int:
    """Oracle: round a non-negative exact fraction to the nearest int, halves up."""
    return math.floor(value + Fraction(1, 2))


def percentage_oracle(order_amount: int, percent: Decimal | None) -> int:
    if percent is None:
        return 0
    return half_up(Fraction(order_amount) * Fraction(percent) / 100)


# --- effective_plan ------------------------------------------------------------


@given(affiliate=plans, campaign=plans)
def test_affiliate_plan_overrides_the_campaign_field_by_field(
    affiliate: Plan, campaign: Plan
) -> None:
    plan = effective_plan(affiliate, campaign)
    assert plan.percent == (
        affiliate.percent if affiliate.percent is not None else campaign.percent
    )
    assert plan.fixed == (affiliate.fixed if affiliate.fixed is not None else campaign.fixed)


def test_an_explicit_zero_fixed_overrides_the_campaign() -> None:
    plan = effective_plan(Plan(fixed=0), Plan(percent=Decimal(10), fixed=50))
    assert plan == Plan(percent=Decimal(10), fixed=0)


def test_empty_plans_give_no_commission() -> None:
    assert effective_plan(Plan(), Plan()) == Plan()
    assert commission_for(10_000, Plan()) == (0, 0)


# --- commission_for ------------------------------------------------------------


@given(order_amount=amounts, plan=plans)
def test_commission_is_the_percentage_of_the_net_order_plus_the_fixed_part(
    order_amount: int, plan: Plan
) -> None:
    total, fixed = commission_for(order_amount, plan)
    assert fixed == (plan.fixed or 0)
    assert total == percentage_oracle(order_amount, plan.percent) + fixed


@pytest.mark.parametrize(
    ("order_amount", "plan", "expected"),
    [
        (4000, Plan(percent=Decimal(10), fixed=50), (450, 50)),
        (4798, Plan(percent=Decimal(10), fixed=50), (530, 50)),  # 479.8 -> 480
        (804, Plan(percent=Decimal("12.5")), (101, 0)),  # 100.5 -> 101: half up
        (803, Plan(percent=Decimal("12.5")), (100, 0)),  # 100.375 -> 100
        (1, Plan(percent=Decimal("0.01"), fixed=0), (0, 0)),
        (0, Plan(percent=Decimal(100), fixed=75), (75, 75)),
        (MAX_AMOUNT, Plan(percent=Decimal(100)), (MAX_AMOUNT, 0)),
    ],
)
def test_commission_examples(order_amount: int, plan: Plan, expected: tuple[int, int]) -> None:
    assert commission_for(order_amount, plan) == expected


# --- commission_after_refund ---------------------------------------------------


@st.composite
def redemptions(draw: st.DrawFn) -> tuple[int, int, int]:
    """(commission, fixed part, order amount) as a redemption records them."""
    order_amount = draw(order_amounts)
    commission, fixed = commission_for(
        order_amount, Plan(percent=draw(st.none() | percents), fixed=draw(fixed_parts))
    )
    return commission, fixed, order_amount


@given(redemption=redemptions())
def test_nothing_refunded_leaves_the_whole_commission(redemption: tuple[int, int, int]) -> None:
    commission, fixed, order_amount = redemption
    assert commission_after_refund(commission, fixed, order_amount, 0) == commission


@given(redemption=redemptions(), data=st.data())
def test_commission_never_grows_as_more_is_refunded(
    redemption: tuple[int, int, int], data: st.DataObject
) -> None:
    commission, fixed, order_amount = redemption
    less = data.draw(st.integers(min_value=0, max_value=order_amount))
    more = data.draw(st.integers(min_value=less, max_value=order_amount))
    assert commission_after_refund(
        commission, fixed, order_amount, more
    ) <= commission_after_refund(commission, fixed, order_amount, less)


@given(redemption=redemptions(), data=st.data())
def test_refunds_never_take_the_fixed_part(
    redemption: tuple[int, int, int], data: st.DataObject
) -> None:
    commission, fixed, order_amount = redemption
    refunded = data.draw(st.integers(min_value=0, max_value=order_amount))
    left = commission_after_refund(commission, fixed, order_amount, refunded)
    assert fixed <= left <= commission
    assert commission_after_refund(commission, fixed, order_amount, order_amount) == fixed


@given(redemption=redemptions(), data=st.data())
def test_commission_after_refund_matches_the_exact_share_rounded_half_up(
    redemption: tuple[int, int, int], data: st.DataObject
) -> None:
    commission, fixed, order_amount = redemption
    refunded = data.draw(st.integers(min_value=0, max_value=order_amount))
    taken = Fraction((commission - fixed) * refunded, order_amount)
    assert commission_after_refund(commission, fixed, order_amount, refunded) == (
        commission - half_up(taken)
    )


def test_commission_after_refund_rounds_half_up() -> None:
    # Percentage part 3 on an order of 4; half of it refunded takes back 1.5 -> 2.
    assert commission_after_refund(3 + 10, 10, 4, 2) == 11
    # 480 x 3798 / 4798 = 379.96 -> 380, plus the fixed 50.
    assert commission_after_refund(530, 50, 4798, 1000) == 430


# --- share ---------------------------------------------------------------------


@st.composite
def shares(draw: st.DrawFn) -> tuple[int, int, int]:
    amount = draw(amounts)
    whole = draw(order_amounts)
    part = draw(st.integers(min_value=0, max_value=whole))
    return amount, part, whole


@given(case=shares())
def test_share_stays_between_nothing_and_the_whole_amount(case: tuple[int, int, int]) -> None:
    amount, part, whole = case
    assert 0 <= share(amount, part, whole) <= amount


@given(case=shares())
def test_share_is_the_exact_share_rounded_half_up(case: tuple[int, int, int]) -> None:
    amount, part, whole = case
    exact = Fraction(amount * part, whole)
    result = share(amount, part, whole)
    assert result == half_up(exact)
    assert abs(result - exact) <= Fraction(1, 2)


@given(amount=amounts, whole=order_amounts)
def test_share_of_nothing_is_zero_and_of_everything_is_all(amount: int, whole: int) -> None:
    assert share(amount, 0, whole) == 0
    assert share(amount, whole, whole) == amount


@given(case=shares(), data=st.data())
def test_share_grows_with_the_part(case: tuple[int, int, int], data: st.DataObject) -> None:
    amount, part, whole = case
    larger = data.draw(st.integers(min_value=part, max_value=whole))
    assert share(amount, part, whole) <= share(amount, larger, whole)


@given(amount=amounts, part=amounts)
def test_share_of_an_empty_whole_is_zero(amount: int, part: int) -> None:
    assert share(amount, part, 0) == 0


@given(case=shares())
def test_share_of_a_negative_amount_mirrors_the_positive(case: tuple[int, int, int]) -> None:
    amount, part, whole = case
    assume(amount > 0)
    assert share(-amount, part, whole) == -share(amount, part, whole)


# --- sequences of refunds --------------------------------------------------------


def target_oracle(commission: int, fixed: int, order_amount: int, refunded: int) -> int:
    """What the README says the commission is worth after ``refunded``: nothing once
    the whole order is refunded, else less the refunded share rounded half up."""
    if refunded == order_amount:
        return 0
    return commission - half_up(Fraction((commission - fixed) * refunded, order_amount))


@st.composite
def refund_sequences(draw: st.DrawFn) -> tuple[tuple[int, int, int], list[int]]:
    """A redemption and refunds (each at least 1) that add up to its order amount.
    Small orders and refunds of half the order make shares of exactly .5 common."""
    order_amount = draw(st.integers(min_value=1, max_value=200) | order_amounts)
    commission, fixed = commission_for(
        order_amount, Plan(percent=draw(st.none() | percents), fixed=draw(fixed_parts))
    )
    inner = st.integers(min_value=1, max_value=max(order_amount - 1, 1))
    cuts = set(draw(st.lists(inner, max_size=11))) if order_amount > 1 else set()
    if order_amount % 2 == 0 and draw(st.booleans()):
        cuts.add(order_amount // 2)
    bounds = [0, *sorted(cuts), order_amount]
    return (commission, fixed, order_amount), [b - a for a, b in itertools.pairwise(bounds)]


@given(case=refund_sequences())
def test_refunds_adding_up_to_the_order_reverse_exactly_the_commission_credited(
    case: tuple[tuple[int, int, int], list[int]],
) -> None:
    """The checkout's rule: each refund appends (the target for the cumulative refund)
    less what the entries add up to so far; the last one is the full rollback."""
    (commission, fixed, order_amount), refunds = case
    entries = [commission]
    refunded = 0
    for amount in refunds:
        before = refunded
        refunded += amount
        full = refunded == order_amount
        target = 0 if full else commission_after_refund(commission, fixed, order_amount, refunded)
        entry = target - sum(entries)
        assert entry == target_oracle(commission, fixed, order_amount, refunded) - (
            target_oracle(commission, fixed, order_amount, before)
        )
        assert entry <= 0
        entries.append(entry)
    assert sum(entries) == 0
    assert sum(entries[1:]) == -commission
