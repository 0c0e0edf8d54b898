"""The ordered validation rules: every reason, its boundaries, and the fixed order (API.md)."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promo.campaigns.discount import (
    Cart,
    CartLine,
    Discount,
    FixedAmount,
    FreeShipping,
    LineFilter,
    Percentage,
    compute_discount,
    eligible_lines,
    eligible_subtotal,
)
from promo.checkout.eligibility import (
    Accepted,
    CampaignTerms,
    CodeState,
    Offer,
    Refused,
    Shopper,
    decide,
)
from promo.checkout.reasons import MESSAGES, Reason
from promo.identity import canonical_email, customer_refs, identify
from tests.support.pii import KEYRING


def allowed(*customer_ids: str) -> frozenset[str]:
    """A campaign's allow-list as stored: the refs of these customer ids."""
    return frozenset(customer_refs(KEYRING, customer_ids))


# --- the base scenario ------------------------------------------------------
#
# The base scenario is accepted, with every limit met exactly: one step past
# any of them fails. Each test changes only what its behaviour is about.

NOW = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)
AFFILIATE_EMAIL_KEY = canonical_email("Anna.Affiliate@example.com")

CART = Cart(
    currency="EUR",
    shipping=490,
    lines=(
        CartLine(
            line_id="1", sku="TSHIRT-1", quantity=2, unit_price=2500, categories=("summer", "tops")
        ),
        CartLine(line_id="2", sku="GIFT-CARD", quantity=1, unit_price=5000, categories=("gift",)),
    ),
)
# The campaign excludes the gift card: only the two t-shirts are eligible.
LINE_FILTER = LineFilter(exclude_skus=frozenset({"GIFT-CARD"}))
ELIGIBLE_SUBTOTAL = 5000
ELIGIBLE_QUANTITY = 2
DISCOUNT = FixedAmount(amount_off=1000)
DISCOUNT_TOTAL = 1000
BUDGET = 100_000
PER_CUSTOMER = 3

CODE = CodeState(
    id=1,
    display="SUMMER20",
    active=True,
    max_redemptions=10,
    used=9,
    affiliate_id=7,
    affiliate_active=True,
    affiliate_email_key=AFFILIATE_EMAIL_KEY,
)
CAMPAIGN = CampaignTerms(
    id=1,
    status="active",
    currency="EUR",
    starts_at=NOW - timedelta(days=30),
    ends_at=NOW + timedelta(days=30),
    discount=DISCOUNT,
    line_filter=LINE_FILTER,
    min_subtotal=ELIGIBLE_SUBTOTAL,
    min_quantity=ELIGIBLE_QUANTITY,
    first_order_only=False,
    customer_refs=frozenset(),
    max_redemptions=100,
    redemptions_used=99,
    max_redemptions_per_customer=PER_CUSTOMER,
    budget=BUDGET,
    budget_used=BUDGET - DISCOUNT_TOTAL,
)


def shopper(
    customer_id: str | None = "cus_42",
    email: str | None = "ana@example.com",
    *,
    first_order: bool = True,
    used_on_campaign: int = PER_CUSTOMER - 1,
    has_redeemed: bool = False,
) -> Shopper:
    """A shopper as a checkout request makes one: identity keys derived from id and e-mail."""
    return Shopper(
        identity=identify(KEYRING, customer_id, email),
        first_order=first_order,
        used_on_campaign=used_on_campaign,
        has_redeemed=has_redeemed,
    )


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One call of ``decide``; the ``with_*`` methods return a changed copy."""

    code: CodeState = CODE
    campaign: CampaignTerms = CAMPAIGN
    shopper: Shopper = dataclasses.field(default_factory=shopper)
    cart: Cart = CART
    now: datetime = NOW
    code_found: bool = True

    def with_code(self, **changes: Any) -> Scenario:
        return dataclasses.replace(self, code=msgspec.structs.replace(self.code, **changes))

    def with_campaign(self, **changes: Any) -> Scenario:
        return dataclasses.replace(self, campaign=msgspec.structs.replace(self.campaign, **changes))

    def with_shopper(self, **changes: Any) -> Scenario:
        """Change the shopper's fields as ``decide`` sees them, each independently."""
        return dataclasses.replace(self, shopper=msgspec.structs.replace(self.shopper, **changes))

    def with_customer(self, customer_id: str | None, email: str | None) -> Scenario:
        """The same shopper identified by this id and e-mail (keys derived as at checkout)."""
        return self.with_shopper(identity=identify(KEYRING, customer_id, email))

    def with_cart(self, **changes: Any) -> Scenario:
        return dataclasses.replace(self, cart=msgspec.structs.replace(self.cart, **changes))

    def at(self, now: datetime) -> Scenario:
        return dataclasses.replace(self, now=now)

    def without_code(self) -> Scenario:
        return dataclasses.replace(self, code_found=False)

    def decide(self) -> Accepted | Refused:
        offer = Offer(code=self.code, campaign=self.campaign) if self.code_found else None
        return decide(offer, self.shopper, self.cart, self.now)


BASE = Scenario()


def refused(scenario: Scenario) -> Refused:
    result = scenario.decide()
    assert isinstance(result, Refused), f"expected a refusal, got {result!r}"
    assert result.message
    return result


def accepted(scenario: Scenario) -> Accepted:
    result = scenario.decide()
    assert isinstance(result, Accepted), f"expected acceptance, got {result!r}"
    return result


def reason_of(scenario: Scenario) -> Reason:
    return refused(scenario).reason


# --- the failing conditions, each switchable on its own ---------------------
#
# Every way to trip one rule, as a change of the base scenario. The changes
# of different reasons touch different fields, so any subset combines.

Condition = Callable[[Scenario], Scenario]

FAILING: dict[Reason, tuple[Condition, ...]] = {
    Reason.CODE_NOT_FOUND: (lambda s: s.without_code(),),
    Reason.CODE_DISABLED: (
        lambda s: s.with_code(active=False),
        lambda s: s.with_code(affiliate_active=False),
    ),
    Reason.CAMPAIGN_INACTIVE: (
        lambda s: s.with_campaign(status="draft"),
        lambda s: s.with_campaign(status="paused"),
        lambda s: s.with_campaign(status="archived"),
    ),
    Reason.NOT_STARTED: (
        lambda s: s.with_campaign(starts_at=NOW + TICK),
        lambda s: s.with_code(starts_at=NOW + TICK),
    ),
    Reason.EXPIRED: (
        lambda s: s.with_campaign(ends_at=NOW - TICK),
        lambda s: s.with_code(expires_at=NOW - TICK),
    ),
    Reason.CURRENCY_MISMATCH: (lambda s: s.with_cart(currency="USD"),),
    Reason.ORDER_ALREADY_REDEEMED: (lambda s: s.with_shopper(order_taken=True),),
    Reason.CUSTOMER_REQUIRED: (lambda s: s.with_customer(None, None),),
    Reason.CUSTOMER_NOT_ELIGIBLE: (
        lambda s: s.with_campaign(customer_refs=allowed("cus_7", "cus_8")),
        lambda s: s.with_code(customer_ref=KEYRING.ref("id", "cus_7")),
    ),
    # The affiliate's own e-mail is the shopper's (the base shopper is ana@example.com).
    Reason.SELF_REFERRAL: (
        lambda s: s.with_code(affiliate_email_key=canonical_email("Ana+me@Example.com")),
    ),
    Reason.FIRST_ORDER_ONLY: (
        lambda s: s.with_campaign(first_order_only=True).with_shopper(first_order=False),
        lambda s: s.with_campaign(first_order_only=True).with_shopper(has_redeemed=True),
    ),
    Reason.NO_ELIGIBLE_ITEMS: (
        lambda s: s.with_campaign(line_filter=LineFilter(include_categories=frozenset({"ski"}))),
        lambda s: s.with_campaign(
            line_filter=LineFilter(exclude_skus=frozenset({"TSHIRT-1", "GIFT-CARD"}))
        ),
    ),
    Reason.MIN_SUBTOTAL_NOT_MET: (lambda s: s.with_campaign(min_subtotal=ELIGIBLE_SUBTOTAL + 1),),
    Reason.MIN_QUANTITY_NOT_MET: (lambda s: s.with_campaign(min_quantity=ELIGIBLE_QUANTITY + 1),),
    Reason.NOTHING_TO_DISCOUNT: (
        lambda s: s.with_campaign(discount=FreeShipping()).with_cart(shipping=0),
    ),
    # Every use taken, one of them only held by a reservation.
    Reason.CODE_RESERVED: (lambda s: s.with_code(used=10, reserved_until=NOW + TICK),),
    Reason.CODE_EXHAUSTED: (
        lambda s: s.with_code(used=10),
        lambda s: s.with_code(max_redemptions=5),  # lowered below what is used
    ),
    Reason.CAMPAIGN_EXHAUSTED: (
        lambda s: s.with_campaign(redemptions_used=100),
        lambda s: s.with_campaign(max_redemptions=50),
    ),
    Reason.CUSTOMER_LIMIT_REACHED: (lambda s: s.with_shopper(used_on_campaign=PER_CUSTOMER),),
    Reason.BUDGET_EXHAUSTED: (
        lambda s: s.with_campaign(budget_used=BUDGET - DISCOUNT_TOTAL + 1),
        lambda s: s.with_campaign(budget=BUDGET - 1),
    ),
}

# Judged across the discounts of one order (promo.checkout.stacking), not by
# decide(): tested in tests/unit/test_stacking.py.
ACROSS_DISCOUNTS = {Reason.NOT_COMBINABLE}
ORDER = [reason for reason in Reason if reason not in ACROSS_DISCOUNTS]
VARIANTS = [
    pytest.param(reason, condition, id=f"{reason.value}-{index}")
    for reason, conditions in FAILING.items()
    for index, condition in enumerate(conditions)
]


def first_in_order(reasons: set[Reason]) -> Reason:
    return min(reasons, key=ORDER.index)


# --- the order --------------------------------------------------------------


def test_reasons_are_declared_in_the_documented_order() -> None:
    # API.md, Checkout: "Reasons (stable, checked in this order)".
    assert [reason.value for reason in Reason] == [
        "code_not_found",
        "order_already_redeemed",
        "code_disabled",
        "campaign_inactive",
        "not_started",
        "expired",
        "currency_mismatch",
        "customer_required",
        "customer_not_eligible",
        "self_referral",
        "first_order_only",
        "no_eligible_items",
        "min_subtotal_not_met",
        "min_quantity_not_met",
        "nothing_to_discount",
        "code_reserved",
        "code_exhausted",
        "campaign_exhausted",
        "customer_limit_reached",
        "budget_exhausted",
        "not_combinable",
    ]


def test_every_reason_has_a_failing_condition() -> None:
    assert set(FAILING) == set(Reason) - ACROSS_DISCOUNTS


def test_base_scenario_is_accepted_with_every_limit_met_exactly() -> None:
    result = accepted(BASE)
    assert result.eligible_subtotal == ELIGIBLE_SUBTOTAL
    assert result.discount.total == DISCOUNT_TOTAL


@pytest.mark.parametrize(("reason", "condition"), VARIANTS)
def test_each_condition_alone_is_refused_with_its_reason(
    reason: Reason, condition: Condition
) -> None:
    assert reason_of(condition(BASE)) is reason


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        pytest.param(earlier, later, id=f"{earlier.value}-before-{later.value}")
        for earlier, later in itertools.combinations(ORDER, 2)
    ],
)
def test_earlier_reason_is_reported_before_later_reason(earlier: Reason, later: Reason) -> None:
    for make_earlier, make_later in itertools.product(FAILING[earlier], FAILING[later]):
        assert reason_of(make_later(make_earlier(BASE))) is earlier
        assert reason_of(make_earlier(make_later(BASE))) is earlier


@st.composite
def failing_subsets(draw: st.DrawFn) -> set[Reason]:
    """Several failing reasons at once; which one comes first is uniform over the order."""
    first = draw(st.sampled_from(ORDER))
    after = ORDER[ORDER.index(first) + 1 :]
    later = draw(st.sets(st.sampled_from(after))) if after else set()
    return {first, *later}


@settings(max_examples=500)
@given(data=st.data(), failing=failing_subsets())
def test_first_failing_rule_in_declared_order_is_reported(
    data: st.DataObject, failing: set[Reason]
) -> None:
    scenario = BASE
    # Applied in any order: each condition touches its own fields.
    for reason in data.draw(st.permutations(sorted(failing, key=ORDER.index))):
        scenario = data.draw(st.sampled_from(FAILING[reason]))(scenario)

    result = scenario.decide()

    assert isinstance(result, Refused)
    assert result.reason is first_in_order(failing)
    assert result.message


def test_expired_is_reported_before_currency_mismatch() -> None:
    scenario = BASE.with_campaign(ends_at=NOW - timedelta(days=1)).with_cart(currency="USD")
    assert reason_of(scenario) is Reason.EXPIRED


def test_customer_required_is_reported_before_customer_limit_reached() -> None:
    scenario = BASE.with_customer(None, None).with_shopper(used_on_campaign=PER_CUSTOMER)
    assert reason_of(scenario) is Reason.CUSTOMER_REQUIRED


def test_min_subtotal_is_reported_before_exhaustion_and_budget() -> None:
    scenario = (
        BASE.with_campaign(min_subtotal=6200, redemptions_used=100, budget=0)
        .with_code(used=10)
        .with_shopper(used_on_campaign=PER_CUSTOMER)
    )
    assert reason_of(scenario) is Reason.MIN_SUBTOTAL_NOT_MET


# --- each reason ------------------------------------------------------------


def test_unknown_code_is_code_not_found() -> None:
    assert reason_of(BASE.without_code()) is Reason.CODE_NOT_FOUND


def test_inactive_code_is_code_disabled() -> None:
    assert reason_of(BASE.with_code(active=False)) is Reason.CODE_DISABLED


def test_code_of_inactive_affiliate_is_code_disabled() -> None:
    assert reason_of(BASE.with_code(affiliate_active=False)) is Reason.CODE_DISABLED


def test_code_without_affiliate_is_not_disabled() -> None:
    no_affiliate = BASE.with_code(
        affiliate_id=None, affiliate_active=None, affiliate_email_key=None
    )
    accepted(no_affiliate)


@pytest.mark.parametrize("status", ["draft", "paused", "archived"])
def test_campaign_not_active_is_campaign_inactive(status: str) -> None:
    assert reason_of(BASE.with_campaign(status=status)) is Reason.CAMPAIGN_INACTIVE


def test_before_start_is_not_started_with_the_start_in_details() -> None:
    starts_at = NOW + timedelta(hours=1)
    result = refused(BASE.with_campaign(starts_at=starts_at))
    assert result.reason is Reason.NOT_STARTED
    assert result.details == {"starts_at": starts_at.isoformat()}


def test_start_instant_itself_is_valid() -> None:
    accepted(BASE.with_campaign(starts_at=NOW))


def test_start_is_compared_as_an_instant_whatever_its_offset() -> None:
    paris_summer = timezone(timedelta(hours=2))
    starts_at = datetime(2026, 6, 1, 0, 0, tzinfo=paris_summer)  # 2026-05-31T22:00Z
    scenario = BASE.with_campaign(starts_at=starts_at)
    accepted(scenario.at(datetime(2026, 5, 31, 22, 0, tzinfo=UTC)))
    assert reason_of(scenario.at(datetime(2026, 5, 31, 21, 59, tzinfo=UTC))) is Reason.NOT_STARTED


def test_after_end_is_expired_with_the_end_in_details() -> None:
    ends_at = NOW - TICK
    result = refused(BASE.with_campaign(ends_at=ends_at))
    assert result.reason is Reason.EXPIRED
    assert result.details == {"ended_at": ends_at.isoformat()}


def test_end_instant_itself_is_still_valid() -> None:
    accepted(BASE.with_campaign(ends_at=NOW))


def test_campaign_without_end_never_expires() -> None:
    accepted(BASE.with_campaign(ends_at=None).at(NOW + timedelta(days=3650)))


def test_cart_in_another_currency_is_currency_mismatch() -> None:
    result = refused(BASE.with_cart(currency="USD"))
    assert result.reason is Reason.CURRENCY_MISMATCH
    assert result.details == {"expected_currency": "EUR"}


def test_per_customer_limit_without_id_or_email_is_customer_required() -> None:
    assert reason_of(BASE.with_customer(None, None)) is Reason.CUSTOMER_REQUIRED


@pytest.mark.parametrize(
    ("customer_id", "email"),
    [
        pytest.param("cus_42", None, id="id-only"),
        pytest.param(None, "ana@example.com", id="email-only"),
    ],
)
def test_per_customer_limit_is_satisfied_by_an_id_or_an_email(
    customer_id: str | None, email: str | None
) -> None:
    accepted(BASE.with_customer(customer_id, email))


def test_anonymous_shopper_is_fine_without_a_per_customer_limit() -> None:
    scenario = BASE.with_customer(None, None).with_campaign(max_redemptions_per_customer=None)
    accepted(scenario)


def test_customer_outside_the_allowlist_is_not_eligible() -> None:
    scenario = BASE.with_campaign(customer_refs=allowed("cus_7"))
    assert reason_of(scenario) is Reason.CUSTOMER_NOT_ELIGIBLE


def test_customer_on_the_allowlist_is_eligible() -> None:
    accepted(BASE.with_campaign(customer_refs=allowed("cus_7", "cus_42")))


def test_allowlist_needs_a_customer_id_an_email_is_not_enough() -> None:
    scenario = BASE.with_customer(None, "ana@example.com").with_campaign(
        customer_refs=allowed("cus_42")
    )
    assert reason_of(scenario) is Reason.CUSTOMER_NOT_ELIGIBLE


def test_empty_allowlist_admits_anyone() -> None:
    accepted(BASE.with_customer("cus_anyone", None).with_campaign(customer_refs=frozenset()))


@pytest.mark.parametrize(
    ("affiliate_email", "shopper_email"),
    [
        pytest.param("anna.affiliate@example.com", "anna.affiliate@example.com", id="same"),
        pytest.param("anna.affiliate@example.com", " Anna.Affiliate+deal@EXAMPLE.com ", id="tag"),
        pytest.param("anna.lima@gmail.com", "AnnaLima+x@googlemail.com", id="gmail"),
    ],
)
def test_affiliate_using_own_code_is_self_referral(
    affiliate_email: str, shopper_email: str
) -> None:
    scenario = BASE.with_code(affiliate_email_key=canonical_email(affiliate_email)).with_customer(
        None, shopper_email
    )
    assert reason_of(scenario) is Reason.SELF_REFERRAL


def test_self_referral_is_found_even_when_the_shopper_gives_a_customer_id() -> None:
    scenario = BASE.with_customer("cus_99", "anna.affiliate+x@example.com")
    assert reason_of(scenario) is Reason.SELF_REFERRAL


def test_other_shopper_on_an_affiliate_code_is_not_self_referral() -> None:
    accepted(BASE.with_customer(None, "anna.affiliate.friend@example.com"))


def test_shopper_without_email_on_code_without_affiliate_is_not_self_referral() -> None:
    # Both e-mail keys absent must not count as "the same e-mail".
    scenario = BASE.with_code(
        affiliate_id=None, affiliate_active=None, affiliate_email_key=None
    ).with_customer("cus_42", None)
    accepted(scenario)


def test_first_order_code_on_a_repeat_order_is_first_order_only() -> None:
    scenario = BASE.with_campaign(first_order_only=True).with_shopper(first_order=False)
    assert reason_of(scenario) is Reason.FIRST_ORDER_ONLY


def test_first_order_code_for_a_customer_who_already_redeemed_is_first_order_only() -> None:
    scenario = BASE.with_campaign(first_order_only=True).with_shopper(
        first_order=True, has_redeemed=True
    )
    assert reason_of(scenario) is Reason.FIRST_ORDER_ONLY


def test_first_order_code_on_a_first_order_is_accepted() -> None:
    accepted(BASE.with_campaign(first_order_only=True).with_shopper(first_order=True))


def test_repeat_order_is_fine_when_the_campaign_is_not_first_order_only() -> None:
    accepted(BASE.with_shopper(first_order=False, has_redeemed=True))


def test_cart_without_eligible_line_is_no_eligible_items() -> None:
    only_gift_card = BASE.with_cart(lines=CART.lines[1:])
    assert reason_of(only_gift_card) is Reason.NO_ELIGIBLE_ITEMS


def test_empty_cart_is_no_eligible_items() -> None:
    assert reason_of(BASE.with_cart(lines=())) is Reason.NO_ELIGIBLE_ITEMS


def test_subtotal_below_minimum_reports_what_is_missing() -> None:
    result = refused(BASE.with_campaign(min_subtotal=6200))
    assert result.reason is Reason.MIN_SUBTOTAL_NOT_MET
    assert result.details == {"min_subtotal": 6200, "missing_subtotal": 1200}


def test_minimum_subtotal_counts_eligible_items_only() -> None:
    # The cart holds 10000 in all, but the excluded gift card does not count.
    result = refused(BASE.with_campaign(min_subtotal=ELIGIBLE_SUBTOTAL + 100))
    assert result.details["missing_subtotal"] == 100


def test_quantity_below_minimum_reports_what_is_missing() -> None:
    result = refused(BASE.with_campaign(min_quantity=5))
    assert result.reason is Reason.MIN_QUANTITY_NOT_MET
    assert result.details == {"min_quantity": 5, "missing_quantity": 3}


def test_no_minimums_accept_a_small_cart() -> None:
    small = BASE.with_cart(lines=(CartLine(line_id="1", sku="SOCKS-2", quantity=1, unit_price=1),))
    accepted(small.with_campaign(min_subtotal=None, min_quantity=None, budget=None))


def test_code_used_up_is_code_exhausted() -> None:
    assert reason_of(BASE.with_code(used=10)) is Reason.CODE_EXHAUSTED


def test_code_limit_lowered_below_its_use_is_code_exhausted() -> None:
    assert reason_of(BASE.with_code(max_redemptions=3)) is Reason.CODE_EXHAUSTED


def test_code_without_limit_is_never_exhausted() -> None:
    accepted(BASE.with_code(max_redemptions=None, used=1_000_000))


def test_campaign_used_up_is_campaign_exhausted() -> None:
    assert reason_of(BASE.with_campaign(redemptions_used=100)) is Reason.CAMPAIGN_EXHAUSTED


def test_campaign_without_limit_is_never_exhausted() -> None:
    accepted(BASE.with_campaign(max_redemptions=None, redemptions_used=1_000_000))


def test_customer_at_the_per_customer_limit_is_customer_limit_reached() -> None:
    scenario = BASE.with_shopper(used_on_campaign=PER_CUSTOMER)
    assert reason_of(scenario) is Reason.CUSTOMER_LIMIT_REACHED


def test_discount_past_the_remaining_budget_is_budget_exhausted() -> None:
    scenario = BASE.with_campaign(budget_used=BUDGET - DISCOUNT_TOTAL + 1)
    assert reason_of(scenario) is Reason.BUDGET_EXHAUSTED


def test_discount_using_exactly_the_remaining_budget_is_accepted() -> None:
    result = accepted(BASE.with_campaign(budget=DISCOUNT_TOTAL, budget_used=0))
    assert result.discount.total == DISCOUNT_TOTAL


def test_budget_is_never_granted_as_a_smaller_discount() -> None:
    # 999 of budget left for a 1000 discount: refused, not 999 off.
    scenario = BASE.with_campaign(budget=DISCOUNT_TOTAL - 1, budget_used=0)
    assert reason_of(scenario) is Reason.BUDGET_EXHAUSTED


def test_free_shipping_counts_against_the_budget() -> None:
    free_shipping = BASE.with_campaign(discount=FreeShipping(), budget_used=0)
    accepted(free_shipping.with_campaign(budget=CART.shipping))
    assert reason_of(free_shipping.with_campaign(budget=CART.shipping - 1)) is (
        Reason.BUDGET_EXHAUSTED
    )


def test_campaign_without_budget_is_never_budget_exhausted() -> None:
    accepted(BASE.with_campaign(budget=None, budget_used=10**12))


# --- what an acceptance carries --------------------------------------------


@pytest.mark.parametrize(
    "discount",
    [
        pytest.param(FixedAmount(amount_off=1000), id="fixed"),
        pytest.param(FixedAmount(amount_off=99_999), id="fixed-capped"),
        pytest.param(Percentage(percent_off=Decimal("12.5")), id="percentage"),
        pytest.param(Percentage(percent_off=Decimal("20"), max_discount=300), id="percent-capped"),
        pytest.param(FreeShipping(), id="free-shipping"),
    ],
)
def test_accepted_carries_the_computed_discount(discount: Discount) -> None:
    result = accepted(BASE.with_campaign(discount=discount, budget=None))
    assert result.discount == compute_discount(discount, CART, eligible_lines(CART, LINE_FILTER))
    assert result.eligible_subtotal == ELIGIBLE_SUBTOTAL


def test_accepted_discount_lists_only_eligible_lines() -> None:
    result = accepted(BASE.with_campaign(discount=Percentage(percent_off=Decimal("20"))))
    assert [line.line_id for line in result.discount.lines] == ["1"]
    assert result.discount.total == 1000


SKUS = ("TSHIRT-1", "SHORTS-3", "GIFT-CARD", "HAT-9")
CATEGORIES = ("summer", "tops", "gift", "clearance")
cart_lines = st.lists(
    st.builds(
        CartLine,
        line_id=st.text(alphabet="0123456789", min_size=1, max_size=3),
        sku=st.sampled_from(SKUS),
        quantity=st.integers(min_value=1, max_value=20),
        unit_price=st.integers(min_value=0, max_value=100_000),
        categories=st.lists(st.sampled_from(CATEGORIES), max_size=2, unique=True).map(tuple),
    ),
    min_size=1,
    max_size=6,
)
line_filters = st.builds(
    LineFilter,
    include_categories=st.frozensets(st.sampled_from(CATEGORIES), max_size=2),
    exclude_skus=st.frozensets(st.sampled_from(SKUS), max_size=2),
)
discounts: st.SearchStrategy[Discount] = st.one_of(
    st.builds(
        Percentage,
        percent_off=st.integers(min_value=1, max_value=10_000).map(lambda h: Decimal(h) / 100),
        max_discount=st.none() | st.integers(min_value=0, max_value=50_000),
    ),
    st.builds(FixedAmount, amount_off=st.integers(min_value=0, max_value=500_000)),
    st.just(FreeShipping()),
)


@given(
    discount=discounts,
    lines=cart_lines,
    line_filter=line_filters,
    shipping=st.integers(min_value=0, max_value=5000),
)
def test_accepted_discount_is_compute_discount_of_the_eligible_lines(
    discount: Discount, lines: list[CartLine], line_filter: LineFilter, shipping: int
) -> None:
    cart = Cart(currency="EUR", shipping=shipping, lines=tuple(lines))
    eligible = eligible_lines(cart, line_filter)
    scenario = BASE.with_cart(shipping=shipping, lines=tuple(lines)).with_campaign(
        discount=discount, line_filter=line_filter, min_subtotal=None, min_quantity=None
    )
    expected = compute_discount(discount, cart, eligible)
    scenario = scenario.with_campaign(budget=expected.total, budget_used=0)

    result = scenario.decide()

    if not eligible:
        assert isinstance(result, Refused)
        assert result.reason is Reason.NO_ELIGIBLE_ITEMS
    elif expected.total == 0:
        # Never a use consumed for nothing.
        assert isinstance(result, Refused)
        assert result.reason is Reason.NOTHING_TO_DISCOUNT
    else:
        assert isinstance(result, Accepted)
        assert result.discount == expected
        assert result.eligible_subtotal == eligible_subtotal(eligible)


# --- messages ---------------------------------------------------------------


@pytest.mark.parametrize("reason", list(Reason))
def test_every_refusal_has_a_message(reason: Reason) -> None:
    message = Refused(reason).message
    assert isinstance(message, str)
    assert message.strip()


def test_every_reason_has_its_own_message() -> None:
    assert set(MESSAGES) == set(Reason)
    assert len(set(MESSAGES.values())) == len(MESSAGES)


# --- a code's own window and its customer ------------------------------------

MOMENTS = st.integers(min_value=-5, max_value=5).map(lambda hours: NOW + timedelta(hours=hours))


@settings(max_examples=200, deadline=None)
@given(
    campaign_start=MOMENTS,
    campaign_end=st.none() | MOMENTS,
    code_start=st.none() | MOMENTS,
    code_end=st.none() | MOMENTS,
)
def test_a_code_applies_only_where_its_window_and_its_campaigns_overlap(
    campaign_start: datetime,
    campaign_end: datetime | None,
    code_start: datetime | None,
    code_end: datetime | None,
) -> None:
    scenario = BASE.with_campaign(starts_at=campaign_start, ends_at=campaign_end).with_code(
        starts_at=code_start, expires_at=code_end
    )
    starts = [campaign_start, *([code_start] if code_start else [])]
    ends = [end for end in (campaign_end, code_end) if end is not None]
    result = scenario.decide()
    if NOW < max(starts):
        assert isinstance(result, Refused)
        assert result.reason is Reason.NOT_STARTED
        assert result.details == {"starts_at": max(starts).isoformat()}
    elif ends and NOW > min(ends):
        assert isinstance(result, Refused)
        assert result.reason is Reason.EXPIRED
        assert result.details == {"ended_at": min(ends).isoformat()}
    else:
        assert isinstance(result, Accepted)


def test_a_code_cannot_widen_its_campaigns_window() -> None:
    scenario = BASE.with_campaign(ends_at=NOW - TICK).with_code(expires_at=NOW + timedelta(days=9))
    assert refused(scenario).details == {"ended_at": (NOW - TICK).isoformat()}


def test_a_code_bound_by_id_admits_its_customer_only() -> None:
    bound = BASE.with_code(customer_ref=KEYRING.ref("id", "cus_42"))
    accepted(bound)
    assert reason_of(bound.with_customer("cus_43", "ana@example.com")) is (
        Reason.CUSTOMER_NOT_ELIGIBLE
    )
    assert reason_of(bound.with_customer(None, "ana@example.com")) is Reason.CUSTOMER_NOT_ELIGIBLE


def test_a_code_bound_by_email_admits_any_spelling_of_that_mailbox() -> None:
    bound = BASE.with_code(customer_ref=KEYRING.ref("email", canonical_email("ana@example.com")))
    accepted(bound.with_customer(None, "Ana+news@Example.com"))
    accepted(bound.with_customer("cus_99", "ana@example.com"))
    assert reason_of(bound.with_customer("cus_42", "bob@example.com")) is (
        Reason.CUSTOMER_NOT_ELIGIBLE
    )


def test_a_bound_code_and_a_checkout_naming_no_customer_is_not_eligible() -> None:
    bound = BASE.with_campaign(max_redemptions_per_customer=None).with_code(
        customer_ref=KEYRING.ref("id", "cus_42")
    )
    assert reason_of(bound.with_customer(None, None)) is Reason.CUSTOMER_NOT_ELIGIBLE
