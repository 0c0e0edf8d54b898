"""The canonical form of codes (API.md, Conventions) and explicit charsets."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, reject
from hypothesis import strategies as st

from promo.codes.canonical import (
    CANONICAL_ALPHABET,
    MAX_DISPLAY_LENGTH,
    MAX_LENGTH,
    MIN_LENGTH,
    SEPARATORS,
    InvalidCode,
    canonical,
    fold_charset,
)

ASCII_ALNUM = string.ascii_letters + string.digits

# --- strategies -------------------------------------------------------------

# Letters and digits only, of a length that is always a valid code.
code_cores = st.text(alphabet=ASCII_ALNUM, min_size=MIN_LENGTH, max_size=MAX_LENGTH)
# What a person might type: letters, digits and separators, valid or not.
code_like = st.text(alphabet=ASCII_ALNUM + SEPARATORS, max_size=MAX_DISPLAY_LENGTH + 4)


@st.composite
def with_separators(draw: st.DrawFn, core: str) -> str:
    """``core`` with separators inserted anywhere, the display staying within its bound."""
    insertions = draw(
        st.lists(
            st.tuples(st.integers(min_value=0, max_value=len(core)), st.sampled_from(SEPARATORS)),
            max_size=MAX_DISPLAY_LENGTH - len(core),
        )
    )
    chars = list(core)
    for position, separator in insertions:
        chars.insert(min(position, len(chars)), separator)
    return "".join(chars)


def canonical_or_none(text: str) -> str | None:
    try:
        return canonical(text)
    except InvalidCode:
        return None


# --- table ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("summer-2o", "SUMMER20"),
        ("Summer_2O", "SUMMER20"),
        (" SUMMER 20 ", "SUMMER20"),
        ("SUMMER20", "SUMMER20"),
        ("sum mer-2_0", "SUMMER20"),
        ("\tSUMMER20\n", "SUMMER20"),
        ("ANNA10", "ANNA10"),
        ("anna-1o", "ANNA10"),
        ("lol", "101"),
        ("LOL", "101"),
        ("oil", "011"),
        ("Il1", "111"),
        ("SUMMER-K7Q2XM", "SUMMERK7Q2XM"),
        ("abc", "ABC"),
        ("a-b-c", "ABC"),
        ("A" * MAX_LENGTH, "A" * MAX_LENGTH),
        ("A-" * MAX_LENGTH, "A" * MAX_LENGTH),  # exactly MAX_DISPLAY_LENGTH characters
        ("   " + "A" * MAX_LENGTH + "   ", "A" * MAX_LENGTH),  # trimmed before measured
    ],
)
def test_typed_code_has_its_canonical_form(typed: str, expected: str) -> None:
    assert canonical(typed) == expected


def test_display_of_exactly_max_display_length_is_accepted() -> None:
    display = "A-" * (MAX_DISPLAY_LENGTH // 2)
    assert len(display) == MAX_DISPLAY_LENGTH
    assert canonical(display) == "A" * (MAX_DISPLAY_LENGTH // 2)


@pytest.mark.parametrize(
    "typed",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="only-spaces"),
        pytest.param("-_ -", id="only-separators"),
        pytest.param("AB", id="two-characters"),
        pytest.param("A-B", id="two-after-removing-separators"),
        pytest.param(" a_b ", id="two-after-trim-and-separators"),
        pytest.param("A" * (MAX_LENGTH + 1), id="too-long"),
        pytest.param("A-" * MAX_LENGTH + "A", id="too-long-with-separators"),
        pytest.param("SUMMER" + "-" * 60 + "20", id="display-longer-than-64"),
        pytest.param("AB" + " " * MAX_DISPLAY_LENGTH + "C", id="display-of-spaces-too-long"),
        pytest.param("\u0410NNA10", id="cyrillic-A"),
        pytest.param("SUMM\u0415R20", id="cyrillic-E"),
        pytest.param("CAF\u00c910", id="E-acute"),
        pytest.param("cafe\u0301", id="combining-accent"),
        pytest.param("ABC\uff11\uff12", id="fullwidth-digits"),
        pytest.param("ABC\u0663", id="arabic-indic-digit"),
        pytest.param("SUMMER%20", id="percent"),
        pytest.param("SUMMER20;", id="semicolon"),
        pytest.param("DROP TABLE codes;--", id="sql"),
        pytest.param("SUMMER.20", id="dot"),
        pytest.param("SUMMER\U0001f389", id="emoji"),
        pytest.param("SUM\tMER", id="inner-tab"),
        pytest.param("SUM\nMER", id="inner-newline"),
        pytest.param("ABC\x00", id="nul"),
    ],
)
def test_text_that_cannot_be_a_code_is_refused(typed: str) -> None:
    with pytest.raises(InvalidCode):
        canonical(typed)


def test_invalid_code_is_a_value_error() -> None:
    assert issubclass(InvalidCode, ValueError)


@pytest.mark.parametrize("letter", ["\u0410", "\u0415", "\u041e", "\u0391", "\u039f"])
def test_lookalike_letter_from_another_script_never_matches_the_latin_code(letter: str) -> None:
    # Cyrillic/Greek A, E, O look like Latin ones; they must not make a second "same" code.
    with pytest.raises(InvalidCode):
        canonical(f"SUMMER{letter}20")


# --- properties -------------------------------------------------------------


@given(text=st.text(max_size=80))
def test_any_text_either_has_a_canonical_form_or_raises_invalid_code(text: str) -> None:
    # Never another exception type: the edge maps InvalidCode to a 422.
    canonical_or_none(text)


@given(text=st.one_of(code_like, st.text(max_size=80)))
def test_canonical_is_idempotent(text: str) -> None:
    form = canonical_or_none(text)
    if form is None:
        reject()
    assert canonical(form) == form


@given(text=st.one_of(code_like, st.text(max_size=80)))
def test_canonical_form_only_holds_canonical_alphabet(text: str) -> None:
    form = canonical_or_none(text)
    if form is None:
        reject()
    assert set(form) <= set(CANONICAL_ALPHABET)
    assert MIN_LENGTH <= len(form) <= MAX_LENGTH


@given(core=code_cores)
def test_every_letters_and_digits_code_of_valid_length_is_accepted(core: str) -> None:
    assert len(canonical(core)) == len(core)


@given(data=st.data(), core=code_cores)
def test_separators_anywhere_never_change_the_canonical_form(
    data: st.DataObject, core: str
) -> None:
    spaced = data.draw(with_separators(core))
    assert canonical(spaced) == canonical(core)


@given(data=st.data(), core=code_cores)
def test_changing_case_never_changes_the_canonical_form(data: st.DataObject, core: str) -> None:
    flips = data.draw(st.lists(st.booleans(), min_size=len(core), max_size=len(core)))
    recased = "".join(c.swapcase() if flip else c for c, flip in zip(core, flips, strict=True))
    assert canonical(recased) == canonical(core)
    assert canonical(core.lower()) == canonical(core.upper()) == canonical(core)


@given(text=code_like)
def test_canonical_accepts_exactly_the_texts_of_valid_length(text: str) -> None:
    display = text.strip()
    letters = "".join(c for c in display if c not in SEPARATORS)
    valid = len(display) <= MAX_DISPLAY_LENGTH and MIN_LENGTH <= len(letters) <= MAX_LENGTH
    assert (canonical_or_none(text) is not None) == valid


@given(core=code_cores)
def test_ambiguous_letters_fold_to_digits(core: str) -> None:
    form = canonical(core)
    expected = core.upper().replace("O", "0").replace("I", "1").replace("L", "1")
    assert form == expected


# --- fold_charset -----------------------------------------------------------


@pytest.mark.parametrize(
    ("chars", "expected"),
    [
        ("aAbB", "AB"),
        ("oO0", "0"),
        ("iIlL1", "1"),
        ("aAbB-_ oOiIlL01", "AB01"),
        ("0123456789", "0123456789"),
        ("23456789ABCDEFGHJKMNPQRSTUVWXYZ", "23456789ABCDEFGHJKMNPQRSTUVWXYZ"),
        ("zyxZYX", "ZYX"),
        ("", ""),
        ("- _", ""),
    ],
)
def test_fold_charset_folds_and_deduplicates_keeping_first_order(chars: str, expected: str) -> None:
    assert fold_charset(chars) == expected


@given(chars=st.text(alphabet=ASCII_ALNUM + SEPARATORS, max_size=100))
def test_fold_charset_yields_unique_canonical_characters(chars: str) -> None:
    folded = fold_charset(chars)
    assert len(set(folded)) == len(folded)
    assert set(folded) <= set(CANONICAL_ALPHABET)


@given(chars=st.text(alphabet=ASCII_ALNUM + SEPARATORS, max_size=100))
def test_fold_charset_keeps_each_characters_canonical_form_in_first_seen_order(
    chars: str,
) -> None:
    expected: list[str] = []
    for char in chars:
        if char in SEPARATORS:
            continue
        # A character's canonical form, as a one-character code would have it.
        form = canonical(char * MIN_LENGTH)[0]
        if form not in expected:
            expected.append(form)
    assert fold_charset(chars) == "".join(expected)


@given(chars=st.text(alphabet=ASCII_ALNUM + SEPARATORS, max_size=100))
def test_fold_charset_is_idempotent(chars: str) -> None:
    assert fold_charset(fold_charset(chars)) == fold_charset(chars)


def test_canonical_alphabet_has_no_ambiguous_letters_and_no_duplicates() -> None:
    assert not set("OIL") & set(CANONICAL_ALPHABET)
    assert len(set(CANONICAL_ALPHABET)) == len(CANONICAL_ALPHABET)
    assert fold_charset(CANONICAL_ALPHABET) == CANONICAL_ALPHABET
