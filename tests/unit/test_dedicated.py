"""The derivation of dedicated codes (pure): safe alphabet, determinism, uniqueness."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from promo.codes.canonical import CANONICAL_ALPHABET, MAX_LENGTH, canonical
from promo.codes.dedicated import ALPHABET, MIN_HASH_LENGTH, derive_code, salt_from_secret

SECRET = "unit-secret-0123456789"
ids = st.integers(min_value=1, max_value=10**9)


def test_alphabet_is_canonical_and_free_of_confusable_characters() -> None:
    assert set(ALPHABET) <= set(CANONICAL_ALPHABET)
    assert not set(ALPHABET) & set("0O1IL")
    assert ALPHABET == ALPHABET.upper()
    assert len(set(ALPHABET)) == len(ALPHABET)


@given(ids, ids, st.integers(min_value=0, max_value=100))
def test_derived_code_is_its_own_canonical_form_without_the_dash(
    campaign: int, affiliate: int, attempt: int
) -> None:
    code = derive_code(SECRET, "SUMMER", campaign, affiliate, attempt)
    prefix, dash, body = code.partition("-")
    assert (prefix, dash) == ("SUMMER", "-")
    assert len(body) >= MIN_HASH_LENGTH
    assert set(body) <= set(ALPHABET)
    assert canonical(code) == f"SUMMER{body}"
    assert len(canonical(code)) <= MAX_LENGTH


@given(ids, ids)
def test_derivation_is_deterministic(campaign: int, affiliate: int) -> None:
    assert derive_code(SECRET, "X", campaign, affiliate) == derive_code(
        SECRET, "X", campaign, affiliate
    )


def test_no_prefix_gives_the_hash_alone() -> None:
    code = derive_code(SECRET, None, 1, 1)
    assert "-" not in code
    assert set(code) <= set(ALPHABET)


def test_distinct_pairs_give_distinct_codes() -> None:
    codes = {
        derive_code(SECRET, None, campaign, affiliate)
        for campaign in range(1, 61)
        for affiliate in range(1, 61)
    }
    assert len(codes) == 60 * 60


def test_each_attempt_gives_another_code() -> None:
    attempts = [derive_code(SECRET, "S", 7, 9, attempt) for attempt in range(200)]
    assert len(set(attempts)) == len(attempts)


def test_the_secret_changes_the_codes_and_is_not_the_salt() -> None:
    assert derive_code(SECRET, None, 3, 4) != derive_code("other-secret-0123456789", None, 3, 4)
    assert SECRET not in salt_from_secret(SECRET)
    assert salt_from_secret(SECRET) == salt_from_secret(SECRET)
