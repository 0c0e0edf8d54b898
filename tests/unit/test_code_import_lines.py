"""The rules of an imported file, line by line (promo.codes.imports_lines)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promo.codes.imports_lines import (
    REASONS,
    Candidate,
    Columns,
    HeaderError,
    Rejection,
    Splitter,
    parse_header,
    parse_line,
    sort_lines,
)
from promo.console.words import IMPORT_REASONS

BOTH = Columns(count=2, code=0, max_redemptions=1)


def cut(data: bytes, sizes: list[int]) -> list[bytes]:
    pieces, start = [], 0
    for size in sizes:
        pieces.append(data[start : start + size])
        start += size
    pieces.append(data[start:])
    return pieces


@given(
    st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), max_size=20),
    st.booleans(),
    st.lists(st.integers(min_value=0, max_value=9), max_size=30),
)
def test_lines_are_the_same_however_the_file_is_cut_and_wherever_it_resumes(
    lines: list[bytes], final_newline: bool, sizes: list[int]
) -> None:
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    splitter = Splitter(first_line=1, start=0)
    found = [line for piece in cut(data, sizes) for line in splitter.feed(piece)]
    found += splitter.end()
    expected = data.split(b"\n")
    if expected and expected[-1] == b"":
        expected.pop()
    assert [raw for _, raw, _ in found] == expected
    assert [number for number, _, _ in found] == list(range(1, len(expected) + 1))
    for number, _, offset in found:
        # Resuming after any line gives the rest of the lines, numbered on.
        again = Splitter(first_line=number + 1, start=offset)
        rest = again.feed(data[offset:]) + again.end()
        assert rest == found[number:]
        assert offset == min(sum(len(line) + 1 for line in expected[:number]), len(data))


def test_the_header_names_the_columns_in_any_order_and_nothing_else() -> None:
    assert parse_header(b"\xef\xbb\xbfCode , MAX_REDEMPTIONS\r") == Columns(2, 0, 1)
    assert parse_header(b"max_redemptions,code") == Columns(2, 1, 0)
    assert parse_header(b"code") == Columns(1, 0, None)
    for bad in (b"SUMMER20", b"code,channel", b"code,code", b"\xff", b""):
        with pytest.raises(HeaderError):
            parse_header(bad)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xffAB,1", "malformed_line"),
        (b"AB\x00C,1", "malformed_line"),
        (b'"SUMMER,1', "malformed_line"),
        (b"SUMMER20", "malformed_line"),
        (b"SUMMER20,1,2", "malformed_line"),
        (b"S!,1", "invalid_code"),
        (b"AB,1", "invalid_code"),
        (b"!!,x", "invalid_code"),  # the code's rule comes first
        (b"SUMMER20,0", "invalid_max_redemptions"),
        (b"SUMMER20,2147483648", "invalid_max_redemptions"),
        (b"SUMMER20,-1", "invalid_max_redemptions"),
        (b"SUMMER20,1.0", "invalid_max_redemptions"),
        (b"SUMMER20,\xd9\xa3", "invalid_max_redemptions"),  # an Arabic-Indic 3
    ],
)
def test_a_line_is_refused_for_the_first_rule_it_breaks(raw: bytes, reason: str) -> None:
    judged = parse_line(7, raw, BOTH)
    assert isinstance(judged, Rejection)
    assert (judged.line, judged.reason) == (7, reason)


def test_a_good_line_keeps_its_display_form_and_limit() -> None:
    assert parse_line(2, b" summer-2o ,3\r", BOTH) == Candidate(2, "summer-2o", "SUMMER20", 3)
    assert parse_line(3, b'"Q-1 2",', BOTH) == Candidate(3, "Q-1 2", "Q12", None)
    assert parse_line(4, b"  \r", BOTH) is None


def test_a_repeated_code_names_the_first_line_of_its_form() -> None:
    candidates, rejected = sort_lines(
        [
            (2, b"SUMMER20,1"),
            (3, b"bad!,1"),
            (4, b"summer-2o,2"),
            (5, b"WINTER,1"),
            (6, b"SUMMER 20,"),
        ],
        BOTH,
    )
    assert [c.line for c in candidates] == [2, 5]
    assert [(r.line, r.reason, r.duplicate_of) for r in rejected] == [
        (3, "invalid_code", None),
        (4, "duplicate_in_file", 2),
        (6, "duplicate_in_file", 2),
    ]


def test_every_reason_has_words_on_the_console() -> None:
    assert set(IMPORT_REASONS) == set(REASONS)
