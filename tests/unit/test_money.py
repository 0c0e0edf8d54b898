"""Money helpers: currency table, exact half-up percentages, largest-remainder splits."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promo.money import (
    CURRENCY_EXPONENTS,
    MAX_AMOUNT,
    MAX_ENTRY,
    MAX_QUANTITY,
    MAX_SAFE_INTEGER,
    ROWS_SAFE,
    div_round_half_up,
    exponent,
    is_currency,
    is_json_safe,
    percent_of,
    split_largest_remainder,
    to_major_units,
)

amounts = st.integers(min_value=0, max_value=MAX_AMOUNT)
# Every percentage the contract allows: 0.01 .. 100.00 in steps of 0.01.
percents = st.integers(min_value=1, max_value=10_000).map(lambda h: Decimal(h).scaleb(-2))


def half_up(value: Fraction) -> int:
    """Oracle: round a non-negative exact fraction to the nearest int, halves up."""
    return math.floor(value + Fraction(1, 2))


# --- currencies -------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "places"),
    [
        ("EUR", 2),
        ("USD", 2),
        ("GBP", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("CLP", 0),
        ("BHD", 3),
        ("KWD", 3),
        ("TND", 3),
        ("CLF", 4),
        ("UYW", 4),
    ],
)
def test_exponent_matches_iso_4217_minor_unit(currency: str, places: int) -> None:
    assert is_currency(currency)
    assert exponent(currency) == places


def test_currency_table_holds_every_active_code_as_three_upper_case_letters() -> None:
    assert len(CURRENCY_EXPONENTS) >= 150
    for code, places in CURRENCY_EXPONENTS.items():
        assert len(code) == 3
        assert code.isascii()
        assert code.isupper()
        assert places in {0, 2, 3, 4}


@pytest.mark.parametrize("code", ["eur", "EURO", "", "XXX", "XAU", "HRK", "ABC"])
def test_unknown_or_non_money_codes_are_not_currencies(code: str) -> None:
    assert not is_currency(code)
    with pytest.raises(KeyError):
        exponent(code)


def test_a_million_maximal_entries_sum_far_inside_the_json_safe_range() -> None:
    """Every amount of an entry is at most MAX_ENTRY; a sum of ROWS_SAFE of them
    stays four times below 2**53 - 1, and far below a bigint's limit."""
    assert MAX_SAFE_INTEGER == 2**53 - 1
    assert MAX_AMOUNT <= MAX_ENTRY
    assert ROWS_SAFE >= 2**20
    assert MAX_ENTRY * ROWS_SAFE * 4 <= MAX_SAFE_INTEGER
    assert MAX_ENTRY * ROWS_SAFE * 4096 < 2**63
    # A line of the largest quantity cannot carry more than the cart total anyway.
    assert MAX_QUANTITY * MAX_AMOUNT < 2**63


near_the_edge = st.integers(min_value=-4, max_value=4).flatmap(
    lambda offset: st.sampled_from([2**53 + offset, -(2**53) + offset])
)


@given(st.integers(min_value=-(2**60), max_value=2**60) | near_the_edge)
def test_json_safe_means_a_double_reads_it_and_its_neighbours_exactly(amount: int) -> None:
    """JavaScript's Number.isSafeInteger: no other integer parses to the same double."""
    exact = all(int(float(n)) == n for n in (amount - 1, amount, amount + 1))
    assert is_json_safe(amount) == exact


# --- percent_of -------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "percent", "expected"),
    [
        (250, "1", 3),  # 2.5 -> 3
        (249, "1", 2),  # 2.49 -> 2
        (5, "50", 3),  # 2.5 -> 3
        (1, "50", 1),  # 0.5 -> 1
        (1, "49.99", 0),  # 0.4999 -> 0
        (1999, "20", 400),  # 399.8 -> 400
        (8999, "20", 1800),  # 1799.8 -> 1800
        (1999, "12.5", 250),  # 249.875 -> 250
        (100, "0.5", 1),  # 0.5 -> 1
        (0, "20", 0),
        (1234, "100", 1234),
        (MAX_AMOUNT, "99.99", half_up(Fraction(MAX_AMOUNT * 9999, 10_000))),
    ],
)
def test_percent_of_rounds_half_up(amount: int, percent: str, expected: int) -> None:
    assert percent_of(amount, Decimal(percent)) == expected


@given(amount=amounts, percent=percents)
def test_percent_of_matches_exact_fraction_oracle(amount: int, percent: Decimal) -> None:
    assert percent_of(amount, percent) == half_up(Fraction(amount) * Fraction(percent) / 100)


@given(amount=amounts, percent=percents)
def test_percent_of_ignores_how_the_decimal_is_written(amount: int, percent: Decimal) -> None:
    # 20, 20.0 and 20.000 are the same percentage.
    assert percent_of(amount, percent.quantize(Decimal("0.0001"))) == percent_of(amount, percent)


@given(amount=amounts, percent=percents)
def test_percent_of_never_exceeds_the_amount(amount: int, percent: Decimal) -> None:
    assert 0 <= percent_of(amount, percent) <= amount


@pytest.mark.parametrize("percent", ["0", "-1", "100.01", "12.345", "0.001", "NaN", "Infinity"])
def test_percent_of_refuses_percentages_outside_the_contract(percent: str) -> None:
    with pytest.raises(ValueError, match="percent"):
        percent_of(1000, Decimal(percent))


@given(
    numerator=st.integers(min_value=-(10**30), max_value=10**30),
    denominator=st.integers(min_value=1, max_value=10**12).flatmap(
        lambda d: st.sampled_from([d, -d])
    ),
)
def test_div_round_half_up_rounds_halves_away_from_zero(numerator: int, denominator: int) -> None:
    exact = Fraction(numerator, denominator)
    expected = half_up(abs(exact)) * (1 if exact >= 0 else -1)
    assert div_round_half_up(numerator, denominator) == expected


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(5, 2, 3), (-5, 2, -3), (5, -2, -3), (7, 3, 2), (-7, 3, -2), (1, 3, 0), (0, 7, 0)],
)
def test_div_round_half_up_examples(numerator: int, denominator: int, expected: int) -> None:
    assert div_round_half_up(numerator, denominator) == expected
    # Same rule as decimal's ROUND_HALF_UP.
    rounded = (Decimal(numerator) / Decimal(denominator)).quantize(
        Decimal(1), rounding=ROUND_HALF_UP
    )
    assert int(rounded) == expected


def test_div_round_half_up_refuses_zero_denominator() -> None:
    with pytest.raises(ZeroDivisionError):
        div_round_half_up(1, 0)


# --- split_largest_remainder ------------------------------------------------

weight_lists = st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=30).filter(
    lambda weights: sum(weights) > 0
)


@st.composite
def splits_within_weights(draw: st.DrawFn) -> tuple[int, list[int]]:
    weights = draw(weight_lists)
    return draw(st.integers(min_value=0, max_value=sum(weights))), weights


@given(total=st.integers(min_value=0, max_value=10**15), weights=weight_lists)
def test_split_parts_sum_exactly_to_total(total: int, weights: list[int]) -> None:
    parts = split_largest_remainder(total, weights)
    assert len(parts) == len(weights)
    assert sum(parts) == total


@given(total=st.integers(min_value=0, max_value=10**15), weights=weight_lists)
def test_split_parts_are_within_one_of_exact_share(total: int, weights: list[int]) -> None:
    weight_sum = sum(weights)
    for part, weight in zip(split_largest_remainder(total, weights), weights, strict=True):
        assert abs(Fraction(part) - Fraction(total * weight, weight_sum)) < 1
        if weight == 0:
            assert part == 0


@given(case=splits_within_weights())
def test_split_part_never_exceeds_its_weight_when_total_fits(case: tuple[int, list[int]]) -> None:
    total, weights = case
    for part, weight in zip(split_largest_remainder(total, weights), weights, strict=True):
        assert 0 <= part <= weight


@given(total=st.integers(min_value=0, max_value=10**15), weights=weight_lists)
def test_split_extra_units_go_to_largest_remainders_then_earlier_index(
    total: int, weights: list[int]
) -> None:
    weight_sum = sum(weights)
    parts = split_largest_remainder(total, weights)
    remainders = [total * weight % weight_sum for weight in weights]
    got_extra = [
        part > total * weight // weight_sum for part, weight in zip(parts, weights, strict=True)
    ]
    for i, extra_i in enumerate(got_extra):
        for j, extra_j in enumerate(got_extra):
            if extra_i and not extra_j:
                assert (remainders[i], -i) > (remainders[j], -j)


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        (1, [1, 1, 1], [1, 0, 0]),
        (2, [1, 1, 1], [1, 1, 0]),
        (100, [1, 1, 1], [34, 33, 33]),
        (10, [0, 5, 0, 5], [0, 5, 0, 5]),
        (1800, [5000, 3999], [1000, 800]),
        (7, [3, 0, 4], [3, 0, 4]),
        (0, [0, 0], [0, 0]),
        (0, [], []),
    ],
)
def test_split_examples(total: int, weights: list[int], expected: list[int]) -> None:
    assert split_largest_remainder(total, weights) == expected


@pytest.mark.parametrize(("total", "weights"), [(1, [0, 0]), (1, []), (-1, [1]), (1, [2, -1])])
def test_split_refuses_impossible_input(total: int, weights: list[int]) -> None:
    with pytest.raises(ValueError, match=r"total|weights|split"):
        split_largest_remainder(total, weights)


# --- to_major_units ---------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (1999, "EUR", "19.99"),
        (5, "EUR", "0.05"),
        (0, "EUR", "0.00"),
        (-500, "EUR", "-5.00"),
        (-5, "EUR", "-0.05"),
        (1999, "JPY", "1999"),
        (-1999, "JPY", "-1999"),
        (0, "JPY", "0"),
        (1999, "BHD", "1.999"),
        (5, "BHD", "0.005"),
        (-12345, "KWD", "-12.345"),
        (12345, "CLF", "1.2345"),
        (MAX_AMOUNT, "EUR", "10000000.00"),
        (2**53 - 1, "EUR", "90071992547409.91"),
    ],
)
def test_to_major_units_formats_exactly(amount: int, currency: str, expected: str) -> None:
    assert to_major_units(amount, currency) == expected


@given(
    amount=st.integers(min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT),
    currency=st.sampled_from(sorted(CURRENCY_EXPONENTS)),
)
def test_to_major_units_round_trips_through_decimal(amount: int, currency: str) -> None:
    text = to_major_units(amount, currency)
    assert Decimal(text).scaleb(exponent(currency)) == amount
    assert len(text.partition(".")[2]) == exponent(currency)


def test_to_major_units_refuses_unknown_currency() -> None:
    with pytest.raises(KeyError):
        to_major_units(100, "XXX")
