"""A code's validity and its customer list, as pure rules: durations, expiry,
the list's reading, and the sealing that keeps the list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promo.codes.batch_customers import read_list
from promo.codes.validity import MAX_VALID_FOR, check_valid_for, expiry
from promo.errors import Invalid
from promo.pii import Keyring
from tests.support.pii import KEYRING

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


@given(st.timedeltas(min_value=timedelta(seconds=1), max_value=MAX_VALID_FOR))
def test_every_duration_from_a_second_to_ten_years_expires_that_long_after_issue(
    valid_for: timedelta,
) -> None:
    assert expiry(NOW, valid_for=valid_for, expires_at=None) == NOW + valid_for


@pytest.mark.parametrize(
    "valid_for",
    [
        timedelta(0),
        timedelta(microseconds=999_999),
        -timedelta(days=1),
        MAX_VALID_FOR + timedelta(1),
    ],
)
def test_a_duration_out_of_bounds_is_refused_naming_valid_for(valid_for: timedelta) -> None:
    with pytest.raises(Invalid) as refused:
        check_valid_for(valid_for)
    assert refused.value.errors[0].field == "valid_for"


def test_an_end_in_the_past_or_beside_a_duration_is_refused_naming_expires_at() -> None:
    for valid_for, expires_at in ((None, NOW), (timedelta(days=1), NOW + timedelta(days=2))):
        with pytest.raises(Invalid) as refused:
            expiry(NOW, valid_for=valid_for, expires_at=expires_at)
        assert refused.value.errors[0].field == "expires_at"
    assert expiry(NOW, valid_for=None, expires_at=None) is None


def test_a_list_with_a_header_and_extra_columns_reads_its_first_column_in_order() -> None:
    listed = read_list(
        KEYRING, b'\xef\xbb\xbfEmail,name\r\nAna@Example.com,Ana\r\n"cus,42"\r\n\r\n'
    )
    assert [(c.line, c.given) for c in listed] == [(2, "Ana@Example.com"), (3, "cus,42")]
    assert listed[0].ref == KEYRING.ref("email", "ana@example.com")
    assert listed[1].ref == KEYRING.ref("id", "cus,42")


def test_one_mailbox_spelled_twice_is_the_same_customer() -> None:
    with pytest.raises(Invalid) as refused:
        read_list(KEYRING, b"ana@example.com\nAna+promo@example.com\n")
    assert [e.message for e in refused.value.errors] == ["line 2: the same customer as line 1"]


@given(st.text(min_size=0, max_size=300))
def test_a_sealed_value_opens_only_for_its_purpose_and_key(text: str) -> None:
    sealed = KEYRING.seal(text, b"purpose")
    assert KEYRING.unseal(sealed, b"purpose") == text
    assert KEYRING.unseal(sealed, b"another purpose") is None
    stranger = Keyring.parse("9:" + "s" * 32)
    assert stranger.unseal(sealed, b"purpose") is None


def test_a_value_sealed_under_a_retired_key_still_opens() -> None:
    old = Keyring.parse("1:" + "o" * 32)
    rotated = Keyring.parse("2:" + "n" * 32, "1:" + "o" * 32)
    assert rotated.unseal(old.seal("ana@example.com", b"p"), b"p") == "ana@example.com"
