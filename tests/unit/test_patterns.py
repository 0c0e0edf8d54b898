"""Code patterns: parsing, charsets, space, the guessability bound and unbiased generation."""

from __future__ import annotations

import string
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promo.codes.canonical import CANONICAL_ALPHABET, canonical
from promo.codes.patterns import (
    PRESETS,
    Charset,
    PatternError,
    generate_rows,
    matcher,
    max_count,
    parse_charset,
    parse_pattern,
    parse_rows,
    random_chars,
    rejection_limit,
)
from promo.settings import SettingsError, load_settings

SAFE = parse_charset("safe")

# Patterns: literal letters/digits/separators and at least one slot, 3..32 canonical chars.
literal_chars = st.sampled_from(string.ascii_letters + string.digits + "-_ ")
pattern_texts = (
    st.lists(st.one_of(literal_chars, st.just("#")), min_size=3, max_size=40)
    .map("".join)
    .filter(lambda t: "#" in t)
    .filter(lambda t: 3 <= len(t.replace("-", "").replace("_", "").replace(" ", "")) <= 32)
    .filter(lambda t: t == t.strip())
)
charsets = st.one_of(
    st.sampled_from(sorted(PRESETS)).map(parse_charset),
    st.text(alphabet=CANONICAL_ALPHABET, min_size=2, max_size=33)
    .filter(lambda t: len(set(t)) >= 2)
    .map(parse_charset),
)


def test_presets_hold_exactly_the_documented_characters() -> None:
    assert PRESETS["safe"] == "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
    assert PRESETS["digits"] == "0123456789"
    assert PRESETS["letters"] == "".join(c for c in string.ascii_uppercase if c not in "ILO")
    assert sorted(PRESETS["alphanumeric"]) == sorted(string.digits + PRESETS["letters"])
    for name, chars in PRESETS.items():
        assert len(set(chars)) == len(chars), name
        assert set(chars) <= set(CANONICAL_ALPHABET), name
    assert not set("01OIL") & set(PRESETS["safe"])


@pytest.mark.parametrize(
    ("text", "chars"),
    [
        ("abc", "ABC"),
        ("a-b c_a", "ABC"),
        ("oO0", "0"),
        ("ilL1x", "1X"),
        ("0123456789", "0123456789"),
    ],
)
def test_explicit_charset_is_canonicalised_and_deduplicated(text: str, chars: str) -> None:
    if len(chars) < 2:
        with pytest.raises(PatternError) as raised:
            parse_charset(text)
        assert raised.value.field == "charset"
    else:
        assert parse_charset(text) == Charset(chars, chars)


@pytest.mark.parametrize("text", ["%$", "ÄÖÜ", "ab#", "\u01311"])
def test_charset_outside_letters_and_digits_is_refused(text: str) -> None:
    with pytest.raises(PatternError) as raised:
        parse_charset(text)
    assert raised.value.field == "charset"


def test_pattern_is_counted_on_its_canonical_form() -> None:
    spellings = ["SUM-####", "SUM####", "sum_####", " Sum ####", "S-U-M-####"]
    parsed = [parse_pattern(text, SAFE) for text in spellings]
    assert {p.canonical for p in parsed} == {"SUM####"}
    assert {p.space for p in parsed} == {31**4}
    assert parse_pattern("COOL-##", SAFE).canonical == "C001##"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("SUMMER", "at least one '#'"),
        ("#", "3 to 32"),
        ("A-#", "3 to 32"),
        ("#" * 33, "3 to 32"),
        ("SUM-" + "#" * 30, "3 to 32"),
        ("SUM%####", "only letters"),
        ("SÜM####", "only letters"),
        ("-" * 61 + "####", "at most 64"),
    ],
)
def test_pattern_that_cannot_make_valid_codes_is_refused(text: str, reason: str) -> None:
    with pytest.raises(PatternError) as raised:
        parse_pattern(text, SAFE)
    assert raised.value.field == "pattern"
    assert reason in raised.value.message


@given(pattern_texts, charsets)
def test_space_is_charset_size_to_the_number_of_slots(text: str, charset: Charset) -> None:
    pattern = parse_pattern(text, charset)
    assert pattern.slots == text.count("#")
    assert pattern.space == len(charset.chars) ** text.count("#")


def test_guess_bound_gives_the_largest_allowed_count() -> None:
    ratio = Fraction("1e-4")
    assert max_count(31**4, 0, ratio) == 92  # 923521 * 1e-4 = 92.35
    assert max_count(31**4, 50, ratio) == 42
    assert max_count(31**4, 200, ratio) == 0
    assert max_count(10**4, 0, ratio) == 1
    assert max_count(33**32, 0, ratio) == 33**32 // 10_000


@given(
    st.integers(min_value=1, max_value=10**40),
    st.integers(min_value=0, max_value=10**7),
    st.fractions(min_value=Fraction(1, 10**9), max_value=Fraction(1, 2)),
)
def test_allowed_count_never_breaks_the_bound_and_one_more_would(
    space: int, existing: int, ratio: Fraction
) -> None:
    allowed = max_count(space, existing, ratio)
    assert allowed >= 0
    if allowed:
        assert Fraction(existing + allowed, space) <= ratio
    assert Fraction(existing + allowed + 1, space) > ratio


@given(st.integers(min_value=1, max_value=256))
def test_rejection_sampling_maps_kept_bytes_uniformly(size: int) -> None:
    limit = rejection_limit(size)
    assert limit % size == 0
    assert limit > 128  # at least half of all bytes are kept
    assert 256 - limit < size  # the largest such multiple
    assert set(Counter(b % size for b in range(limit)).values()) == {limit // size}


def test_every_charset_character_is_drawn_equally_often() -> None:
    """All 256 byte values exactly 4 times: the kept ones map exactly uniformly."""
    source = bytes(range(256)) * 4
    for chars in (*PRESETS.values(), "AB", "ABC"):
        limit = rejection_limit(len(chars))
        drawn = random_chars(chars, limit * 4, lambda n: source)
        assert set(Counter(drawn.decode()).values()) == {limit * 4 // len(chars)}, chars


def test_random_chars_draws_again_after_rejections() -> None:
    """Only rejected bytes at first: the generator asks for more until it has enough."""
    batches = iter([bytes([255]) * 100, bytes([0, 1, 2]) * 100])
    assert random_chars("0123456789", 5, lambda n: next(batches)) == b"01201"


@settings(max_examples=50)
@given(pattern_texts, charsets, st.integers(min_value=1, max_value=300))
def test_every_generated_code_matches_its_pattern_and_charset(
    text: str, charset: Charset, count: int
) -> None:
    pattern = parse_pattern(text, charset)
    rows = parse_rows(generate_rows(pattern, count))
    assert len(rows) == count
    expected = matcher(pattern)
    for display, form in rows:
        assert expected.fullmatch(form), (display, form)
        assert canonical(display) == form
        assert len(display) == len(pattern.display)
        literals = [(d, p) for d, p in zip(display, pattern.display, strict=True) if p != "#"]
        assert all(d == p for d, p in literals)
        slots = [d for d, p in zip(display, pattern.display, strict=True) if p == "#"]
        assert set(slots) <= set(charset.chars)


def test_display_keeps_the_pattern_as_typed() -> None:
    pattern = parse_pattern("Sum-##_##", parse_charset("digits"))
    (display, form), *_ = parse_rows(generate_rows(pattern, 1))
    assert display[:4] == "Sum-"
    assert display[6] == "_"
    assert form == "SUM" + display[4:6] + display[7:9]


def test_a_million_codes_are_drawn_in_well_under_two_seconds() -> None:
    import time

    pattern = parse_pattern("SUM-#####-#####", SAFE)
    started = time.perf_counter()
    rows = generate_rows(pattern, 1_000_000)
    assert time.perf_counter() - started < 2.0
    assert rows.count(b"\n") == 1_000_000


def test_generated_codes_are_spread_over_the_whole_space() -> None:
    """A smoke test of randomness: 10,000 draws of 2 digits cover all 100 codes."""
    pattern = parse_pattern("AB##", parse_charset("digits"))
    forms = Counter(form for _, form in parse_rows(generate_rows(pattern, 10_000)))
    assert len(forms) == 100
    assert max(forms.values()) < 200  # expected 100 each


@pytest.mark.parametrize("value", ["0", "-1", "0.6", "nan", "abc"])
def test_guess_ratio_setting_must_be_a_ratio_up_to_one_half(value: str) -> None:
    with pytest.raises(SettingsError, match="PROMO_MAX_GUESS_RATIO"):
        load_settings({"PROMO_MAX_GUESS_RATIO": value})


def test_guess_ratio_setting_defaults_to_one_in_ten_thousand() -> None:
    assert load_settings({}).max_guess_ratio == 1e-4
    assert load_settings({"PROMO_MAX_GUESS_RATIO": "0.001"}).max_guess_ratio == 0.001
