"""The discount engine: eligible lines, percentage / fixed / free-shipping math, line split."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from promo.campaigns.discount import (
    Cart,
    CartLine,
    Discount,
    DiscountResult,
    FixedAmount,
    FreeShipping,
    LineAmount,
    LineFilter,
    Percentage,
    compute_discount,
    eligible_lines,
    eligible_quantity,
    eligible_subtotal,
)
from promo.money import exponent, to_major_units

NO_FILTER = LineFilter()
CATEGORIES = ("summer", "tops", "gift", "clearance", "shoes")
SKUS = ("TSHIRT-1", "SHORTS-3", "GIFT-CARD", "HAT-9", "SOCKS-2", "SANDAL-5")


def line(line_id: str, sku: str, quantity: int, unit_price: int, *categories: str) -> CartLine:
    return CartLine(
        line_id=line_id,
        sku=sku,
        quantity=quantity,
        unit_price=unit_price,
        categories=categories,
    )


def eur_cart(*lines: CartLine, shipping: int = 490) -> Cart:
    return Cart(currency="EUR", shipping=shipping, lines=lines)


def items_amounts(result: DiscountResult) -> list[int]:
    return [line_amount.amount for line_amount in result.lines]


# --- strategies -------------------------------------------------------------


@st.composite
def cart_lines(draw: st.DrawFn, line_id: str) -> CartLine:
    return CartLine(
        line_id=line_id,
        sku=draw(st.sampled_from(SKUS)),
        quantity=draw(st.integers(min_value=1, max_value=50)),
        unit_price=draw(st.integers(min_value=0, max_value=1_000_000)),
        categories=tuple(draw(st.lists(st.sampled_from(CATEGORIES), max_size=3, unique=True))),
    )


@st.composite
def carts(draw: st.DrawFn) -> Cart:
    count = draw(st.integers(min_value=0, max_value=12))
    return Cart(
        currency="EUR",
        shipping=draw(st.integers(min_value=0, max_value=10_000)),
        lines=tuple(draw(cart_lines(str(index))) for index in range(count)),
    )


line_filters = st.builds(
    LineFilter,
    include_skus=st.frozensets(st.sampled_from(SKUS), max_size=2),
    include_categories=st.frozensets(st.sampled_from(CATEGORIES), max_size=2),
    exclude_skus=st.frozensets(st.sampled_from(SKUS), max_size=2),
    exclude_categories=st.frozensets(st.sampled_from(CATEGORIES), max_size=2),
)
percents = st.integers(min_value=1, max_value=10_000).map(lambda h: Decimal(h).scaleb(-2))
percentages = st.builds(
    Percentage,
    percent_off=percents,
    max_discount=st.none() | st.integers(min_value=0, max_value=100_000),
)
fixed_amounts = st.builds(FixedAmount, amount_off=st.integers(min_value=0, max_value=10**8))
discounts: st.SearchStrategy[Discount] = percentages | fixed_amounts | st.just(FreeShipping())


# --- properties -------------------------------------------------------------


@given(discount=discounts, cart=carts(), line_filter=line_filters)
def test_line_amounts_sum_exactly_to_the_items_discount(
    discount: Discount, cart: Cart, line_filter: LineFilter
) -> None:
    result = compute_discount(discount, cart, eligible_lines(cart, line_filter))
    assert sum(items_amounts(result)) + result.shipping == result.total


@given(discount=discounts, cart=carts(), line_filter=line_filters)
def test_line_amount_stays_between_zero_and_line_total(
    discount: Discount, cart: Cart, line_filter: LineFilter
) -> None:
    eligible = eligible_lines(cart, line_filter)
    result = compute_discount(discount, cart, eligible)
    assert [amount.line_id for amount in result.lines] == [item.line_id for item in eligible]
    for amount, item in zip(result.lines, eligible, strict=True):
        assert amount.sku == item.sku
        assert 0 <= amount.amount <= item.total


@given(discount=discounts, cart=carts(), line_filter=line_filters)
def test_items_discount_never_exceeds_eligible_subtotal(
    discount: Discount, cart: Cart, line_filter: LineFilter
) -> None:
    eligible = eligible_lines(cart, line_filter)
    result = compute_discount(discount, cart, eligible)
    assert 0 <= result.total - result.shipping <= eligible_subtotal(eligible)


@given(discount=percentages, cart=carts(), line_filter=line_filters)
def test_percentage_is_half_up_of_subtotal_capped_by_max_discount(
    discount: Percentage, cart: Cart, line_filter: LineFilter
) -> None:
    eligible = eligible_lines(cart, line_filter)
    result = compute_discount(discount, cart, eligible)
    exact = Fraction(eligible_subtotal(eligible)) * Fraction(discount.percent_off) / 100
    expected = math.floor(exact + Fraction(1, 2))
    if discount.max_discount is not None:
        expected = min(expected, discount.max_discount)
        assert result.total <= discount.max_discount
    assert result.total == expected
    assert result.shipping == 0


@given(discount=percentages, cart=carts(), extra=cart_lines("added"))
def test_percentage_discount_never_decreases_when_an_eligible_line_is_added(
    discount: Percentage, cart: Cart, extra: CartLine
) -> None:
    before = compute_discount(discount, cart, eligible_lines(cart, NO_FILTER))
    grown = Cart(currency=cart.currency, shipping=cart.shipping, lines=(*cart.lines, extra))
    after = compute_discount(discount, grown, eligible_lines(grown, NO_FILTER))
    assert after.total >= before.total


@given(discount=fixed_amounts, cart=carts(), line_filter=line_filters)
def test_fixed_amount_never_exceeds_eligible_subtotal(
    discount: FixedAmount, cart: Cart, line_filter: LineFilter
) -> None:
    eligible = eligible_lines(cart, line_filter)
    result = compute_discount(discount, cart, eligible)
    assert result.total == min(discount.amount_off, eligible_subtotal(eligible))
    assert result.shipping == 0


@given(cart=carts(), line_filter=line_filters)
def test_free_shipping_takes_off_the_carts_shipping_and_nothing_else(
    cart: Cart, line_filter: LineFilter
) -> None:
    eligible = eligible_lines(cart, line_filter)
    result = compute_discount(FreeShipping(), cart, eligible)
    assert result.total == result.shipping == cart.shipping
    assert len(result.lines) == len(eligible)
    assert all(amount == 0 for amount in items_amounts(result))


@given(cart=carts(), line_filter=line_filters)
def test_eligible_lines_keep_cart_order_and_never_hold_an_excluded_line(
    cart: Cart, line_filter: LineFilter
) -> None:
    eligible = eligible_lines(cart, line_filter)
    positions = [cart.lines.index(item) for item in eligible]
    assert positions == sorted(positions)
    for item in eligible:
        assert item.sku not in line_filter.exclude_skus
        assert line_filter.exclude_categories.isdisjoint(item.categories)
        if line_filter.include_skus or line_filter.include_categories:
            assert item.sku in line_filter.include_skus or not (
                line_filter.include_categories.isdisjoint(item.categories)
            )


@given(cart=carts())
def test_without_filters_every_line_is_eligible(cart: Cart) -> None:
    assert eligible_lines(cart, NO_FILTER) == cart.lines


# --- realistic carts --------------------------------------------------------


def test_summer20_skips_the_excluded_gift_card() -> None:
    cart = eur_cart(
        line("1", "TSHIRT-1", 2, 2500, "summer", "tops"),
        line("2", "SHORTS-3", 1, 3999, "summer"),
        line("3", "GIFT-CARD", 1, 5000, "gift"),
    )
    eligible = eligible_lines(cart, LineFilter(exclude_skus=frozenset({"GIFT-CARD"})))
    summer20 = Percentage(percent_off=Decimal("20"), max_discount=5000)

    result = compute_discount(summer20, cart, eligible)

    # 20% of 89.99 = 17.998 -> 18.00; 18.00 split 5000:3999 -> 10.00 + 8.00.
    assert eligible_subtotal(eligible) == 8999
    assert eligible_quantity(eligible) == 3
    assert result == DiscountResult(
        total=1800,
        shipping=0,
        lines=(
            LineAmount(line_id="1", sku="TSHIRT-1", amount=1000),
            LineAmount(line_id="2", sku="SHORTS-3", amount=800),
        ),
    )


def test_contract_example_gives_ten_euros_off_two_tshirts() -> None:
    cart = eur_cart(line("1", "TSHIRT-1", 2, 2500, "summer", "tops"))
    filter_ = LineFilter(
        include_categories=frozenset({"summer"}), exclude_skus=frozenset({"GIFT-CARD"})
    )
    result = compute_discount(
        Percentage(percent_off=Decimal("20"), max_discount=5000),
        cart,
        eligible_lines(cart, filter_),
    )
    assert result == DiscountResult(
        total=1000, shipping=0, lines=(LineAmount(line_id="1", sku="TSHIRT-1", amount=1000),)
    )


def test_percentage_is_capped_by_max_discount() -> None:
    cart = eur_cart(line("1", "SANDAL-5", 4, 25_000, "shoes"))
    result = compute_discount(
        Percentage(percent_off=Decimal("20"), max_discount=5000), cart, cart.lines
    )
    assert result.total == 5000
    assert items_amounts(result) == [5000]


def test_fixed_ten_euros_on_a_seven_euro_cart_gives_seven_euros() -> None:
    cart = eur_cart(line("1", "SOCKS-2", 1, 700, "basics"))
    result = compute_discount(FixedAmount(amount_off=1000), cart, cart.lines)
    assert result == DiscountResult(
        total=700, shipping=0, lines=(LineAmount(line_id="1", sku="SOCKS-2", amount=700),)
    )


def test_free_shipping_gives_the_carts_shipping() -> None:
    cart = eur_cart(line("1", "TSHIRT-1", 1, 2500), line("2", "HAT-9", 1, 1500), shipping=490)
    result = compute_discount(FreeShipping(), cart, cart.lines)
    assert result == DiscountResult(
        total=490,
        shipping=490,
        lines=(
            LineAmount(line_id="1", sku="TSHIRT-1", amount=0),
            LineAmount(line_id="2", sku="HAT-9", amount=0),
        ),
    )


def test_jpy_amounts_are_whole_yen() -> None:
    assert exponent("JPY") == 0
    cart = Cart(
        currency="JPY",
        shipping=500,
        lines=(line("1", "TSHIRT-1", 1, 1980), line("2", "SOCKS-2", 3, 330)),
    )
    result = compute_discount(Percentage(percent_off=Decimal("12.5")), cart, cart.lines)
    # 12.5% of ¥2970 = 371.25 -> ¥371, split 1980:990 -> 247.33 / 123.67 -> 247 / 124.
    assert result.total == 371
    assert items_amounts(result) == [247, 124]
    assert to_major_units(result.total, cart.currency) == "371"


def test_zero_price_free_item_is_eligible_and_gets_nothing() -> None:
    cart = eur_cart(line("1", "TSHIRT-1", 1, 2000), line("2", "STICKER", 2, 0))
    eligible = eligible_lines(cart, NO_FILTER)
    result = compute_discount(Percentage(percent_off=Decimal("10")), cart, eligible)
    assert eligible == cart.lines
    assert eligible_quantity(eligible) == 3
    assert result.lines == (
        LineAmount(line_id="1", sku="TSHIRT-1", amount=200),
        LineAmount(line_id="2", sku="STICKER", amount=0),
    )


def test_cart_of_only_free_items_gets_no_items_discount() -> None:
    cart = eur_cart(line("1", "STICKER", 2, 0))
    result = compute_discount(FixedAmount(amount_off=500), cart, cart.lines)
    assert result.total == 0
    assert items_amounts(result) == [0]


def test_include_categories_with_an_exclusion_on_top() -> None:
    cart = eur_cart(
        line("1", "TSHIRT-1", 1, 2500, "summer", "tops"),
        line("2", "SWIM-7", 1, 4000, "summer", "clearance"),
        line("3", "HAT-9", 1, 1500, "accessories"),
        line("4", "SOCKS-2", 2, 500, "basics"),
        line("5", "SHORTS-3", 1, 3000, "summer"),
    )
    filter_ = LineFilter(
        include_skus=frozenset({"HAT-9"}),
        include_categories=frozenset({"summer"}),
        exclude_skus=frozenset({"SHORTS-3"}),
        exclude_categories=frozenset({"clearance"}),
    )
    eligible = eligible_lines(cart, filter_)
    assert [item.line_id for item in eligible] == ["1", "3"]

    result = compute_discount(FixedAmount(amount_off=1000), cart, eligible)
    # 10.00 split 2500:1500 -> 6.25 / 3.75 -> 625 / 375.
    assert result.total == 1000
    assert items_amounts(result) == [625, 375]


def test_no_eligible_line_gives_an_empty_discount() -> None:
    cart = eur_cart(line("1", "GIFT-CARD", 1, 5000, "gift"))
    eligible = eligible_lines(cart, LineFilter(exclude_categories=frozenset({"gift"})))
    result = compute_discount(Percentage(percent_off=Decimal("20")), cart, eligible)
    assert eligible == ()
    assert result == DiscountResult(total=0, shipping=0, lines=())


@pytest.mark.parametrize(
    ("amount_off", "expected"), [(1, [1, 0, 0]), (2, [1, 1, 0]), (3, [1, 1, 1]), (4, [2, 1, 1])]
)
def test_split_ties_go_to_the_earlier_line(amount_off: int, expected: list[int]) -> None:
    cart = eur_cart(*(line(str(i), f"SKU-{i}", 1, 1000) for i in range(3)))
    result = compute_discount(FixedAmount(amount_off=amount_off), cart, cart.lines)
    assert items_amounts(result) == expected


# --- wire shape -------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            b'{"type": "percentage", "percent_off": 12.5, "max_discount": 5000}',
            Percentage(percent_off=Decimal("12.5"), max_discount=5000),
        ),
        (b'{"type": "percentage", "percent_off": "20"}', Percentage(percent_off=Decimal(20))),
        (b'{"type": "fixed_amount", "amount_off": 1000}', FixedAmount(amount_off=1000)),
        (b'{"type": "free_shipping"}', FreeShipping()),
    ],
)
def test_discount_kinds_decode_from_the_contract_shape(payload: bytes, expected: Discount) -> None:
    decoded = msgspec.json.decode(payload, type=Discount)
    assert decoded == expected
    assert msgspec.json.decode(msgspec.json.encode(decoded), type=Discount) == expected


def test_percent_off_decodes_to_an_exact_decimal_not_a_float() -> None:
    decoded = msgspec.json.decode(b'{"type": "percentage", "percent_off": 0.1}', type=Discount)
    assert isinstance(decoded, Percentage)
    assert decoded.percent_off == Decimal("0.1")
