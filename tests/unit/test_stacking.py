"""Which discounts of one order stack, in what order (promo.campaigns.stacking, the
terms; promo.checkout.stacking, the rule)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from promo.campaigns.discount import FixedAmount, FreeShipping, Gift, LineFilter, Percentage
from promo.campaigns.stacking import (
    CombinesWith,
    DiscountClass,
    Stacking,
    combinable,
    discount_class,
)
from promo.checkout.eligibility import Refused
from promo.checkout.reasons import Reason
from promo.checkout.stacking import application_order, stack

ORDER, PRODUCT, SHIPPING = DiscountClass.ORDER, DiscountClass.PRODUCT, DiscountClass.SHIPPING
EVERYTHING = CombinesWith(order=True, product=True, shipping=True)

stackings = st.builds(
    Stacking,
    discount_class=st.sampled_from(list(DiscountClass)),
    combines_with=st.builds(CombinesWith, st.booleans(), st.booleans(), st.booleans()),
    exclusive=st.booleans(),
    priority=st.integers(-2, 2),
)


def take(
    amounts: list[int], refused: set[int] | frozenset[int] = frozenset()
) -> Callable[[int, int], tuple[int, int] | Refused]:
    """An ``apply`` that takes ``amounts[position]`` off what is left (a total),
    refusing the positions in ``refused`` for a reason of their own, and what
    would take nothing."""

    def apply(position: int, left: int) -> tuple[int, int] | Refused:
        if position in refused:
            return Refused(Reason.EXPIRED)
        amount = min(amounts[position], left)
        if amount == 0:
            return Refused(Reason.NOTHING_TO_DISCOUNT)
        return amount, left - amount

    return apply


def test_a_product_and_an_order_discount_stack_only_when_each_admits_the_other() -> None:
    product = Stacking(PRODUCT, CombinesWith(order=True))
    order = Stacking(ORDER, CombinesWith(product=True))
    assert combinable(product, order)
    assert not combinable(product, Stacking(ORDER, CombinesWith(shipping=True)))
    assert not combinable(Stacking(PRODUCT, CombinesWith(product=True)), order)
    # Nothing stacks by default, and nothing stacks with an exclusive discount.
    assert not combinable(Stacking(ORDER), Stacking(SHIPPING))
    assert not combinable(
        Stacking(ORDER, EVERYTHING, exclusive=True), Stacking(SHIPPING, EVERYTHING)
    )


def test_higher_priority_first_then_as_given() -> None:
    given_order = [Stacking(ORDER, priority=0), Stacking(ORDER, priority=5), Stacking(ORDER)]
    assert application_order(given_order) == [1, 0, 2]


def test_each_discount_applies_on_what_the_earlier_ones_left() -> None:
    both = [Stacking(ORDER, EVERYTHING), Stacking(PRODUCT, EVERYTHING, priority=1)]
    outcomes, left = stack(both, 100, take([30, 80]))
    # The product discount (priority 1) goes first and takes 80; 20 are left for the order one.
    assert [outcome.applied for outcome in outcomes] == [20, 80]
    assert left == 0


def test_one_that_does_not_combine_is_refused_naming_the_one_it_clashes_with() -> None:
    codes = ["SUMMER20", "ANNA10"]
    pair = [Stacking(ORDER, EVERYTHING), Stacking(ORDER)]
    outcomes, left = stack(pair, 100, take([20, 10]), label=codes.__getitem__)
    assert outcomes[0].applied == 20
    assert outcomes[1].refused == Refused(Reason.NOT_COMBINABLE, {"conflicts_with": "SUMMER20"})
    assert left == 80


def test_a_discount_refused_for_its_own_reason_blocks_nothing() -> None:
    exclusive_but_expired = Stacking(ORDER, exclusive=True, priority=9)
    outcomes, left = stack(
        [exclusive_but_expired, Stacking(ORDER)], 100, take([50, 10], refused={0})
    )
    assert outcomes[0].refused == Refused(Reason.EXPIRED)
    assert outcomes[1].applied == 10
    assert left == 90


@given(
    st.lists(stackings, min_size=1, max_size=5),
    st.lists(st.integers(0, 60), min_size=5, max_size=5),
    st.sets(st.integers(0, 4)),
    st.integers(0, 200),
)
def test_what_stack_accepts_combines_pairwise_and_sums_to_what_it_took(
    stacked: list[Stacking], amounts: list[int], refused: set[int], total: int
) -> None:
    outcomes, left = stack(stacked, total, take(amounts, refused))
    accepted = [index for index, outcome in enumerate(outcomes) if outcome.applied is not None]
    # Every answer is one or the other.
    assert all((outcome.applied is None) != (outcome.refused is None) for outcome in outcomes)
    # What was accepted combines pairwise: an exclusive discount is alone.
    for first, second in itertools.combinations(accepted, 2):
        assert combinable(stacked[first], stacked[second])
    # Nothing taken twice, nothing below zero.
    assert sum(outcomes[index].applied or 0 for index in accepted) == total - left
    assert 0 <= left <= total
    # A discount refused as not combinable clashes with an accepted one of
    # higher or equal rank; one refused for its own reason is in ``refused`` or
    # took nothing.
    rank = application_order(stacked)
    for index, outcome in enumerate(outcomes):
        if outcome.refused is None:
            continue
        if outcome.refused.reason is Reason.NOT_COMBINABLE:
            clash = int(outcome.refused.details["conflicts_with"])
            assert clash in accepted
            assert rank.index(clash) < rank.index(index)
            assert not combinable(stacked[index], stacked[clash])
        else:
            assert index in refused or outcome.refused.reason is Reason.NOTHING_TO_DISCOUNT


def test_a_discount_class_follows_from_what_it_takes_off() -> None:
    ten = Percentage(percent_off=Decimal(10))
    assert discount_class(FreeShipping(), LineFilter()) is SHIPPING
    assert discount_class(ten, LineFilter(include_categories=frozenset({"summer"}))) is PRODUCT
    assert discount_class(
        FixedAmount(amount_off=500), LineFilter(include_skus=frozenset({"A"}))
    ) is (PRODUCT)
    gift = Gift(sku="TOTE", quantity=1, threshold=5000)
    assert discount_class(gift, LineFilter()) is PRODUCT
    five_each = FixedAmount(amount_off=500, allocation="each", max_quantity=3)
    assert discount_class(five_each, LineFilter()) is PRODUCT
    # Excluding items still discounts the order.
    assert discount_class(ten, LineFilter(exclude_skus=frozenset({"GIFT-CARD"}))) is ORDER
