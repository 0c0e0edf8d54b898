"""The rules of an imported file, line by line (pure: no I/O).

A file is UTF-8 CSV whose first line is a header naming its columns: ``code``
(required) and ``max_redemptions`` (optional; an empty cell is no limit), in
any order; any other column is refused with the whole upload. Lines are
numbered as a text editor numbers them, the header being line 1; blank
lines are skipped. A line is refused, with one reason, for the first rule it
breaks, in this order:

- ``malformed_line``: not UTF-8, an unterminated quote, or not as many cells
  as the header names;
- ``invalid_code``: the code has no canonical form (``promo.codes.canonical``);
- ``invalid_max_redemptions``: not a whole number within the API's bounds;
- ``duplicate_in_file``: an earlier line that passed the rules above has the
  same canonical form (the error names that first line);
- ``code_taken``: a live code, in any campaign, reads the same.

The last one is the database's to judge (its unique index of live canonical
forms); the others are decided here.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

import msgspec

from promo.codes.canonical import MAX_DISPLAY_LENGTH, InvalidCode, canonical
from promo.codes.schemas import MaxRedemptions

Reason = Literal[
    "malformed_line",
    "invalid_code",
    "invalid_max_redemptions",
    "duplicate_in_file",
    "code_taken",
]
REASONS: tuple[str, ...] = get_args(Reason)
CODE = "code"
MAX_REDEMPTIONS = "max_redemptions"
COLUMNS = (CODE, MAX_REDEMPTIONS)
# A header longer than this is no header of ours.
MAX_HEADER_BYTES = 1024
BOM = "\ufeff"


class HeaderError(ValueError):
    """The file's first line is no header of ours; the message says why."""


@dataclass(frozen=True, slots=True)
class Columns:
    """Where each column is in a line's cells."""

    count: int
    code: int
    max_redemptions: int | None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A line that passed every rule of its own: to be loaded unless its code is taken."""

    line: int
    code: str
    canonical: str
    max_redemptions: int | None


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    reason: Reason
    value: str | None
    detail: str | None = None
    duplicate_of: int | None = None
    # The canonical form of a duplicate (to find its first line); not stored.
    canonical: str | None = None


def _cells(text: str) -> list[str]:
    if '"' not in text:
        return text.split(",")
    # strict: an unterminated quote is an error, not a cell running to the end.
    return next(csv.reader([text], strict=True))


def parse_header(first_line: bytes) -> Columns:
    """The columns the header line names; ``HeaderError`` when it is no header of ours."""
    try:
        text = first_line.decode("utf-8").removeprefix(BOM).rstrip("\r\n")
    except UnicodeDecodeError:
        raise HeaderError("the file is not UTF-8 text") from None
    try:
        names = [cell.strip().lower() for cell in _cells(text)]
    except csv.Error:
        names = [text]
    if CODE not in names:
        raise HeaderError(
            "the first line must be a header naming the columns: code (required) and "
            f"max_redemptions (optional); found {text[:100]!r}"
        )
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        raise HeaderError(
            f"unknown column(s) {', '.join(repr(n) for n in unknown)}: the columns are "
            "code (required) and max_redemptions (optional)"
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise HeaderError(f"column(s) named twice: {', '.join(repeated)}")
    return Columns(
        count=len(names),
        code=names.index(CODE),
        max_redemptions=names.index(MAX_REDEMPTIONS) if MAX_REDEMPTIONS in names else None,
    )


# The API's bounds of a code's limit, read from its type (one definition).
_LIMIT: msgspec.Meta = get_args(MaxRedemptions)[1]
LIMIT_MIN: int = _LIMIT.ge  # type: ignore[assignment]
LIMIT_MAX: int = _LIMIT.le  # type: ignore[assignment]
MAX_REDEMPTIONS_TEXT = f"a whole number from {LIMIT_MIN} to {LIMIT_MAX}, or empty for no limit"


def _max_redemptions(text: str) -> int | None:
    """The cell as a limit (None: no limit); ValueError when it is none."""
    if not text:
        return None
    if not (text.isascii() and text.isdigit()):
        raise ValueError(text)
    limit = int(text)
    if not LIMIT_MIN <= limit <= LIMIT_MAX:
        raise ValueError(text)
    return limit


def parse_line(number: int, raw: bytes, columns: Columns) -> Candidate | Rejection | None:
    """One data line judged by its own rules (all but the duplicates); None when blank."""
    try:
        text = raw.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        return Rejection(number, "malformed_line", None, "not UTF-8 text")
    if not text.strip():
        return None
    if "\x00" in text:
        # Text the database cannot hold (PostgreSQL refuses U+0000).
        return Rejection(number, "malformed_line", None, "contains a NUL character")
    try:
        cells = _cells(text)
    except csv.Error:
        return Rejection(
            number, "malformed_line", text[:MAX_DISPLAY_LENGTH], "a quote is not closed"
        )
    if len(cells) != columns.count:
        return Rejection(
            number,
            "malformed_line",
            text[:MAX_DISPLAY_LENGTH],
            f"{len(cells)} cells where the header names {columns.count}",
        )
    display = cells[columns.code].strip()
    try:
        form = canonical(display)
    except InvalidCode as exc:
        return Rejection(number, "invalid_code", display[:MAX_DISPLAY_LENGTH], str(exc))
    limit: int | None = None
    if columns.max_redemptions is not None:
        try:
            limit = _max_redemptions(cells[columns.max_redemptions].strip())
        except ValueError:
            return Rejection(number, "invalid_max_redemptions", display, MAX_REDEMPTIONS_TEXT)
    return Candidate(number, display, form, limit)


def sort_lines(
    lines: Iterable[tuple[int, bytes]], columns: Columns
) -> tuple[list[Candidate], list[Rejection]]:
    """A round's lines: the first line of each canonical form (candidates) and
    the refused ones, a later line with the form of a candidate among them
    (``duplicate_in_file`` of that candidate's line)."""
    firsts: dict[str, Candidate] = {}
    rejected: list[Rejection] = []
    for number, raw in lines:
        judged = parse_line(number, raw, columns)
        if judged is None:
            continue
        if isinstance(judged, Rejection):
            rejected.append(judged)
            continue
        first = firsts.get(judged.canonical)
        if first is None:
            firsts[judged.canonical] = judged
        else:
            rejected.append(duplicate(judged, first.line))
    return list(firsts.values()), rejected


def duplicate(line: Candidate, first_line: int) -> Rejection:
    return Rejection(
        line.line,
        "duplicate_in_file",
        line.code,
        duplicate_of=first_line,
        canonical=line.canonical,
    )


def taken(line: Candidate) -> Rejection:
    return Rejection(line.line, "code_taken", line.code, canonical=line.canonical)


def message(reason: str, detail: str | None, duplicate_of: int | None) -> str:
    """A refused line's explanation, in English (the API's ``message``)."""
    if reason == "malformed_line":
        return f"The line cannot be read: {detail}"
    if reason == "invalid_code":
        return f"Not a code: {detail}"
    if reason == "invalid_max_redemptions":
        return f"max_redemptions must be {MAX_REDEMPTIONS_TEXT}"
    if reason == "duplicate_in_file":
        return f"The same code as line {duplicate_of}"
    return "A live code reads the same"


class Splitter:
    """Cuts the bytes that follow offset ``start`` of a file into lines, as
    (number, bytes without the newline, offset just past the line), numbered
    from ``first_line``; the last line may lack its newline."""

    def __init__(self, *, first_line: int, start: int) -> None:
        self.number = first_line
        self.offset = start
        self._rest = b""

    def feed(self, chunk: bytes) -> list[tuple[int, bytes, int]]:
        pieces = (self._rest + chunk).split(b"\n")
        self._rest = pieces.pop()
        lines = []
        for piece in pieces:
            self.offset += len(piece) + 1
            lines.append((self.number, piece, self.offset))
            self.number += 1
        return lines

    def end(self) -> list[tuple[int, bytes, int]]:
        if not self._rest:
            return []
        self.offset += len(self._rest)
        line = (self.number, self._rest, self.offset)
        self.number += 1
        self._rest = b""
        return [line]
