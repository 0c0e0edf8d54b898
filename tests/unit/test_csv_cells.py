"""The CSV-injection rule: what starts like a formula gets a leading quote, nothing else."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from promo.csv_cells import FORMULA_START_PATTERN, FORMULA_STARTS, TEXT_MARK, neutralise

texts = st.text() | st.builds(str.__add__, st.sampled_from([*FORMULA_STARTS, "'", " "]), st.text())


@given(texts)
def test_text_starting_like_a_formula_is_marked_and_nothing_else_changes(text: str) -> None:
    shown = neutralise(text)
    if text[:1] in {"=", "+", "-", "@", "\t", "\r"}:
        assert shown == TEXT_MARK + text
    else:
        assert shown == text


@given(texts)
def test_the_sql_pattern_matches_exactly_the_formula_starts(text: str) -> None:
    assert bool(re.match(FORMULA_START_PATTERN, text)) == text.startswith(FORMULA_STARTS)


@given(texts)
def test_what_is_shown_never_starts_like_a_formula(text: str) -> None:
    assert not neutralise(text).startswith(FORMULA_STARTS)
