"""Public ids are opaque, stable and map back to exactly one integer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promo.errors import NotFound
from promo.ids import Kind, decode, encode, require


@given(st.sampled_from(list(Kind)), st.integers(min_value=0, max_value=2**63 - 1))
def test_public_id_round_trips(kind: Kind, value: int) -> None:
    public = encode(kind, value)
    assert public.startswith(f"{kind.value}_")
    assert decode(kind, public) == value


def test_public_id_of_another_kind_is_not_accepted() -> None:
    assert decode(Kind.AFFILIATE, encode(Kind.CAMPAIGN, 7)) is None


@given(st.text(max_size=40))
def test_arbitrary_strings_decode_to_nothing_or_to_their_own_encoding(text: str) -> None:
    value = decode(Kind.CAMPAIGN, text)
    assert value is None or encode(Kind.CAMPAIGN, value) == text


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_has_its_not_found_answer(kind: Kind) -> None:
    with pytest.raises(NotFound) as raised:
        require(kind, "nothing")
    assert raised.value.code.endswith("_not_found")
