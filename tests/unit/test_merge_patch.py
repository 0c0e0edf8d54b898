"""JSON merge patch (RFC 7396) of a campaign's sections: absent keeps, null removes."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from msgspec import UNSET

from promo.campaigns.merge import merge
from promo.campaigns.schemas import (
    Commission,
    CommissionPatch,
    Limits,
    LimitsPatch,
    Rules,
    RulesPatch,
)

SECTIONS = [(Rules, RulesPatch), (Limits, LimitsPatch), (Commission, CommissionPatch)]

bound = st.none() | st.integers(min_value=1, max_value=2**31 - 1)
limits = st.builds(Limits, max_redemptions=bound, max_redemptions_per_customer=bound, budget=bound)
patch_value = st.just(UNSET) | bound
limits_patches = st.builds(
    LimitsPatch,
    max_redemptions=patch_value,
    max_redemptions_per_customer=patch_value,
    budget=patch_value,
)


@pytest.mark.parametrize(("section", "patch"), SECTIONS)
def test_every_field_of_a_section_can_be_patched(
    section: type[msgspec.Struct], patch: type[msgspec.Struct]
) -> None:
    names = [f.name for f in msgspec.structs.fields(section)]
    assert names
    assert [f.name for f in msgspec.structs.fields(patch)] == names


@given(current=limits, patch=limits_patches)
def test_absent_keeps_null_removes_a_value_replaces(current: Limits, patch: LimitsPatch) -> None:
    merged = merge(current, patch)
    for name in ("max_redemptions", "max_redemptions_per_customer", "budget"):
        sent = getattr(patch, name)
        expected = getattr(current, name) if sent is UNSET else sent  # None: the default
        assert getattr(merged, name) == expected


@given(current=limits)
def test_an_empty_patch_changes_nothing_and_null_resets_the_section(current: Limits) -> None:
    assert merge(current, LimitsPatch()) == current
    assert merge(current, None) == Limits()


def test_null_list_and_flag_go_back_to_their_defaults_lists_are_replaced_whole() -> None:
    current = Rules(exclude_skus=["A", "B"], include_categories=["x"], first_order_only=True)
    merged = merge(
        current, RulesPatch(exclude_skus=None, include_categories=["y"], first_order_only=None)
    )
    assert merged == Rules(include_categories=["y"])


def test_a_merged_commission_keeps_the_field_not_sent() -> None:
    current = Commission(percent=Decimal("12.50"), fixed=100)
    assert merge(current, CommissionPatch(fixed=None)) == Commission(percent=Decimal("12.50"))
