"""The discount kinds of issue 19: allocation each / max_quantity, buy X get Y, gift,
tiers; every kind on what lines still cost (``taken``), so codes chain."""

from __future__ import annotations

import itertools
from decimal import Decimal

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from promo.campaigns.discount import (
    BuyXGetY,
    Cart,
    CartLine,
    Discount,
    DiscountResult,
    FixedAmount,
    FreeShipping,
    Gift,
    ItemSet,
    LineFilter,
    Percentage,
    Shortfall,
    Tier,
    Tiered,
    after,
    compute_discount,
    eligible_lines,
)

CATEGORIES = ("tops", "hats", "shoes")
SKUS = ("TSHIRT", "CAP", "SNEAKER", "SOCKS")


def line(line_id: str, sku: str, quantity: int, unit_price: int, *categories: str) -> CartLine:
    return CartLine(
        line_id=line_id, sku=sku, quantity=quantity, unit_price=unit_price, categories=categories
    )


def cart_of(*lines: CartLine, shipping: int = 0) -> Cart:
    return Cart(currency="EUR", shipping=shipping, lines=lines)


def amounts(result: DiscountResult | Shortfall) -> dict[str, int]:
    assert isinstance(result, DiscountResult)
    return {x.line_id: x.amount for x in result.lines}


# --- strategies -------------------------------------------------------------


@st.composite
def cart_lines(draw: st.DrawFn, line_id: str) -> CartLine:
    quantity = draw(st.integers(min_value=1, max_value=20))
    unit_price = draw(st.integers(min_value=0, max_value=100_000))
    return CartLine(
        line_id=line_id,
        sku=draw(st.sampled_from(SKUS)),
        quantity=quantity,
        unit_price=unit_price,
        categories=tuple(draw(st.lists(st.sampled_from(CATEGORIES), max_size=2, unique=True))),
        # What earlier codes took: anything from nothing to the whole line.
        taken=draw(st.integers(min_value=0, max_value=quantity * unit_price)),
    )


@st.composite
def carts(draw: st.DrawFn, max_lines: int = 8) -> Cart:
    count = draw(st.integers(min_value=0, max_value=max_lines))
    shipping = draw(st.integers(min_value=0, max_value=5_000))
    return Cart(
        currency="EUR",
        shipping=shipping,
        shipping_taken=draw(st.integers(min_value=0, max_value=shipping)),
        lines=tuple(draw(cart_lines(str(index))) for index in range(count)),
    )


percents = st.integers(min_value=1, max_value=10_000).map(lambda h: Decimal(h).scaleb(-2))
quantities = st.none() | st.integers(min_value=1, max_value=30)
item_sets = st.builds(
    ItemSet,
    skus=st.frozensets(st.sampled_from(SKUS), max_size=2),
    categories=st.frozensets(st.sampled_from(CATEGORIES), max_size=2),
).filter(lambda s: bool(s.skus or s.categories))
buy_x_get_ys = st.builds(
    BuyXGetY,
    buy=item_sets,
    get=item_sets,
    buy_quantity=st.integers(min_value=1, max_value=4),
    get_quantity=st.integers(min_value=1, max_value=3),
    percent_off=percents,
    max_applications=st.integers(min_value=1, max_value=5),
)


@st.composite
def tiereds(draw: st.DrawFn) -> Tiered:
    thresholds = sorted(draw(st.sets(st.integers(1, 500_000), min_size=1, max_size=4)))
    tiers = []
    for threshold in thresholds:
        if draw(st.booleans()):
            tiers.append(Tier(threshold=threshold, percent_off=draw(percents)))
        else:
            tiers.append(Tier(threshold=threshold, amount_off=draw(st.integers(1, 10**6))))
    return Tiered(tiers=tuple(tiers))


discounts: st.SearchStrategy[Discount] = (
    st.builds(
        Percentage,
        percent_off=percents,
        max_discount=st.none() | st.integers(min_value=0, max_value=100_000),
        allocation=st.sampled_from(["across", "each"]),
    )
    | st.builds(
        Percentage,
        percent_off=percents,
        allocation=st.just("each"),
        max_quantity=quantities,
    )
    | st.builds(
        FixedAmount,
        amount_off=st.integers(min_value=0, max_value=10**6),
        allocation=st.sampled_from(["across", "each"]),
    )
    | st.builds(
        FixedAmount,
        amount_off=st.integers(min_value=0, max_value=10**6),
        allocation=st.just("each"),
        max_quantity=quantities,
    )
    | st.just(FreeShipping())
    | buy_x_get_ys
    | st.builds(
        Gift,
        sku=st.sampled_from(SKUS),
        threshold=st.integers(1, 300_000),
        quantity=st.integers(1, 5),
    )
    | tiereds()
)
line_filters = st.builds(
    LineFilter,
    include_categories=st.frozensets(st.sampled_from(CATEGORIES), max_size=1),
    exclude_skus=st.frozensets(st.sampled_from(SKUS), max_size=1),
)


# --- properties of every kind -------------------------------------------------


@settings(max_examples=300)
@given(discount=discounts, cart=carts(), line_filter=line_filters)
def test_no_line_below_zero_or_above_what_it_still_costs_and_parts_sum_to_total(
    discount: Discount, cart: Cart, line_filter: LineFilter
) -> None:
    eligible = eligible_lines(cart, line_filter)
    result = compute_discount(discount, cart, eligible)
    if isinstance(result, Shortfall):
        assert result.missing > 0
        return
    by_id = {x.line_id: x for x in cart.lines}
    for part in result.lines:
        assert 0 <= part.amount <= by_id[part.line_id].remaining
    assert sum(x.amount for x in result.lines) + result.shipping == result.total
    assert 0 <= result.shipping <= cart.shipping - cart.shipping_taken
    # Every eligible line is listed, in cart order; only a gift adds another.
    listed = [x.line_id for x in result.lines]
    assert [x.line_id for x in eligible if x.line_id in listed] == [x.line_id for x in eligible]
    assert listed == sorted(listed, key=int)
    if not isinstance(discount, Gift):
        assert listed == [x.line_id for x in eligible]


@given(first=discounts, second=discounts, third=discounts, cart=carts())
def test_chained_codes_never_take_a_line_below_zero(
    first: Discount, second: Discount, third: Discount, cart: Cart
) -> None:
    now, granted = cart, 0
    for discount in (first, second, third):
        result = compute_discount(discount, now, now.lines)
        if isinstance(result, Shortfall):
            continue
        now = after(now, result)
        granted += result.total
    for before, left in zip(cart.lines, now.lines, strict=True):
        assert before.taken <= left.taken <= left.total
    assert cart.shipping_taken <= now.shipping_taken <= now.shipping
    taken = sum(x.taken for x in now.lines) + now.shipping_taken
    assert taken == sum(x.taken for x in cart.lines) + cart.shipping_taken + granted


# --- allocation -----------------------------------------------------------------


def test_five_off_each_tshirt_up_to_three_takes_the_cheapest_three() -> None:
    cart = cart_of(line("1", "TSHIRT", 2, 3000, "tops"), line("2", "TSHIRT", 2, 1500, "tops"))
    discount = FixedAmount(amount_off=500, allocation="each", max_quantity=3)
    assert amounts(compute_discount(discount, cart, cart.lines)) == {"1": 500, "2": 1000}


def test_each_without_max_quantity_counts_every_unit_and_caps_at_the_unit_price() -> None:
    cart = cart_of(line("1", "TSHIRT", 3, 3000), line("2", "SOCKS", 4, 200))
    discount = FixedAmount(amount_off=500, allocation="each")
    assert amounts(compute_discount(discount, cart, cart.lines)) == {"1": 1500, "2": 800}


def test_percentage_on_the_cheapest_max_quantity_units() -> None:
    cart = cart_of(line("1", "TSHIRT", 1, 5000), line("2", "SOCKS", 3, 1000))
    discount = Percentage(percent_off=Decimal(50), allocation="each", max_quantity=2)
    assert amounts(compute_discount(discount, cart, cart.lines)) == {"1": 0, "2": 1000}


def test_each_works_on_what_an_earlier_code_left() -> None:
    cart = cart_of(CartLine(line_id="1", sku="TSHIRT", quantity=2, unit_price=1000, taken=1600))
    discount = FixedAmount(amount_off=500, allocation="each")
    assert amounts(compute_discount(discount, cart, cart.lines)) == {"1": 400}


# --- buy X get Y ------------------------------------------------------------------


def _units(cart: Cart) -> list[tuple[int, CartLine]]:
    return [(i, x) for i, x in enumerate(cart.lines) for _ in range(x.quantity)]


def _best_by_brute_force(discount: BuyXGetY, cart: Cart) -> tuple[int, int]:
    """(applications, cheapest cost of their Y units) over every assignment."""
    best = (0, 0)
    lines = cart.lines
    ranges = [range(x.quantity + 1) for x in lines]
    for picked in itertools.product(*ranges):
        gets = sum(picked)
        if gets % discount.get_quantity or any(
            k and not discount.get.holds(x) for x, k in zip(lines, picked, strict=True)
        ):
            continue
        n = gets // discount.get_quantity
        if n > discount.max_applications:
            continue
        buyers = sum(
            x.quantity - k for x, k in zip(lines, picked, strict=True) if discount.buy.holds(x)
        )
        if buyers < n * discount.buy_quantity:
            continue
        cost = sum(k * x.unit_price for x, k in zip(lines, picked, strict=True))
        if n > best[0] or (n == best[0] and cost < best[1]):
            best = (n, cost)
    return best


@st.composite
def small_carts(draw: st.DrawFn) -> Cart:
    count = draw(st.integers(min_value=1, max_value=4))
    lines = tuple(
        CartLine(
            line_id=str(i),
            sku=draw(st.sampled_from(SKUS)),
            quantity=draw(st.integers(1, 3)),
            unit_price=draw(st.integers(1, 50)),
            categories=tuple(draw(st.lists(st.sampled_from(CATEGORIES), max_size=2, unique=True))),
        )
        for i in range(count)
    )
    return cart_of(*lines)


@settings(max_examples=300)
@given(discount=buy_x_get_ys, cart=small_carts())
def test_buy_x_get_y_makes_the_most_applications_on_the_cheapest_get_units(
    discount: BuyXGetY, cart: Cart
) -> None:
    free = msgspec.structs.replace(discount, percent_off=Decimal(100))
    result = compute_discount(free, cart, cart.lines)
    applications, cheapest = _best_by_brute_force(free, cart)
    if applications == 0:
        assert isinstance(result, Shortfall)
        assert result.min_quantity == discount.buy_quantity + discount.get_quantity
        return
    assert isinstance(result, DiscountResult)
    assert result.total == cheapest
    # Never more than max_applications * get_quantity units given.
    given_units = sum(
        part.amount // x.unit_price for part, x in zip(result.lines, cart.lines, strict=True)
    )
    assert given_units == applications * discount.get_quantity
    assert given_units <= discount.max_applications * discount.get_quantity


def test_an_item_in_both_sets_is_not_its_own_buy_and_get() -> None:
    # Buy 1 get 1 on t-shirts: one t-shirt alone is no application.
    bogo = BuyXGetY(
        buy=ItemSet(categories=frozenset({"tops"})),
        get=ItemSet(categories=frozenset({"tops"})),
        buy_quantity=1,
        get_quantity=1,
    )
    alone = cart_of(line("1", "TSHIRT", 1, 2000, "tops"))
    assert compute_discount(bogo, alone, alone.lines) == Shortfall(missing=1, min_quantity=2)
    two = cart_of(line("1", "TSHIRT", 1, 2000, "tops"), line("2", "TSHIRT", 1, 1500, "tops"))
    assert amounts(compute_discount(bogo, two, two.lines)) == {"1": 0, "2": 1500}


def test_a_both_set_unit_goes_to_buy_when_get_has_another() -> None:
    # The cheap cap is in both sets; taking it as Y would leave nothing to buy.
    deal = BuyXGetY(
        buy=ItemSet(skus=frozenset({"CAP"})),
        get=ItemSet(skus=frozenset({"CAP", "SNEAKER"})),
        buy_quantity=1,
        get_quantity=1,
        percent_off=Decimal(50),
    )
    cart = cart_of(line("1", "CAP", 1, 1000), line("2", "SNEAKER", 1, 8000))
    assert amounts(compute_discount(deal, cart, cart.lines)) == {"1": 0, "2": 4000}


# --- gift and tiers -------------------------------------------------------------


def test_gift_not_in_the_cart_is_told_and_costs_nothing_yet() -> None:
    cart = cart_of(line("1", "SNEAKER", 1, 6000))
    result = compute_discount(Gift(sku="SOCKS", threshold=5000), cart, cart.lines)
    assert isinstance(result, DiscountResult)
    assert result.total == 0
    assert result.gift is not None
    assert (result.gift.sku, result.gift.quantity, result.gift.in_cart) == ("SOCKS", 1, 0)


def test_gift_in_the_cart_is_free_and_does_not_count_towards_its_threshold() -> None:
    gift = Gift(sku="SOCKS", threshold=5000, quantity=2)
    short = cart_of(line("1", "SNEAKER", 1, 4000), line("2", "SOCKS", 3, 900))
    assert compute_discount(gift, short, short.lines) == Shortfall(missing=1000, min_subtotal=5000)
    cart = cart_of(line("1", "SNEAKER", 1, 6000), line("2", "SOCKS", 3, 900))
    # The socks are outside the campaign's rules and still the gift.
    result = compute_discount(gift, cart, cart.lines[:1])
    assert amounts(result) == {"1": 0, "2": 1800}
    assert isinstance(result, DiscountResult)
    assert result.gift is not None
    assert (result.gift.in_cart, result.gift.amount) == (2, 1800)


@given(discount=tiereds(), cart=carts())
def test_the_highest_tier_reached_applies(discount: Tiered, cart: Cart) -> None:
    subtotal = sum(x.remaining for x in cart.lines)
    result = compute_discount(discount, cart, cart.lines)
    reached = [t for t in discount.tiers if t.threshold <= subtotal]
    if not reached:
        assert result == Shortfall(
            missing=discount.tiers[0].threshold - subtotal,
            min_subtotal=discount.tiers[0].threshold,
        )
        return
    tier = reached[-1]
    alone = (
        Percentage(percent_off=tier.percent_off)
        if tier.percent_off is not None
        else FixedAmount(amount_off=tier.amount_off or 0)
    )
    assert result == compute_discount(alone, cart, cart.lines)


def test_spend_fifty_save_five_spend_a_hundred_save_fifteen() -> None:
    tiers = Tiered(
        tiers=(Tier(threshold=5000, amount_off=500), Tier(threshold=10000, amount_off=1500))
    )
    for price, saved in ((6000, 500), (10000, 1500), (25000, 1500)):
        cart = cart_of(line("1", "SNEAKER", 1, price))
        assert amounts(compute_discount(tiers, cart, cart.lines)) == {"1": saved}
