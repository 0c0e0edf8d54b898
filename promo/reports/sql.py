"""SQL of the reports and the roll-ups: a unit's bucket, the ranges read, the uses of each.

Everything here is written as SQL text of integer literals that the service
computed and column names of its own tables: nothing a client sent. Built as
SQLAlchemy expressions, the ``CASE`` of a report of 1,000 buckets (thousands
of branches) cost ~0.4 s of compilation.

``reads`` turns a report's terms (promo.reports.buckets) into what the
statement reads: per grain, ranges of keys, each read once and given a
``piece`` number, and the ``uses`` of each piece: to which bucket it counts,
with which sign for the validations and which for the sales. A piece can
count in two buckets (the hours between Monday 00:00 UTC and a New York
week's start are taken from that week and added to the week before): its
rows are read once and counted twice by joining them to ``uses``.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Boolean, Integer, Subquery, column, literal_column, text
from sqlalchemy.sql import ColumnElement

from promo.reports.buckets import Term
from promo.reports.grains import GrainName


def step(column_sql: str, lows: Sequence[int], results: Sequence[int]) -> ColumnElement[int]:
    """``results[i]`` for the last ``lows[i] <= column`` (``lows`` increasing), as
    nested ``CASE`` halving the list: about log2(len) comparisons a row."""

    def half(first: int, end: int) -> str:
        if end - first == 1:
            return str(int(results[first]))
        middle = (first + end) // 2
        return (
            f"CASE WHEN {column_sql} < {int(lows[middle])} THEN {half(first, middle)} "
            f"ELSE {half(middle, end)} END"
        )

    return literal_column(half(0, len(lows)), Integer)


def within(column_sql: str, ranges: Iterable[tuple[int, int]]) -> ColumnElement[bool]:
    """``column`` in any of the ranges ``[low, high)`` (increasing; adjacent ones joined)."""
    joined: list[tuple[int, int]] = []
    for low, high in ranges:
        if joined and joined[-1][1] == low:
            joined[-1] = (joined[-1][0], high)
        else:
            joined.append((low, high))
    condition = " OR ".join(
        f"({column_sql} >= {int(low)} AND {column_sql} < {int(high)})" for low, high in joined
    )
    return literal_column(f"({condition})", Boolean)


@dataclass(frozen=True)
class Segment:
    """Keys ``[low, high)`` of one grain, read as piece ``piece``."""

    low: int
    high: int
    piece: int


@dataclass(frozen=True)
class Use:
    """Piece ``piece`` counts in ``bucket``: validations times ``sign``, sales times
    ``sales_sign`` (0 where only validations are wanted)."""

    piece: int
    bucket: int
    sign: int
    sales_sign: int


@dataclass(frozen=True)
class Reads:
    segments: dict[GrainName, list[Segment]]
    uses: list[Use]


def reads(terms: Iterable[Term]) -> Reads:
    """Each grain's terms cut at every term's ends into segments, each counted in
    the buckets of the terms that hold it, signs summed; a segment whose counts
    cancel is not read, and neighbours counted alike are read as one."""
    by_grain: dict[GrainName, list[Term]] = defaultdict(list)
    for term in terms:
        by_grain[term.grain].append(term)
    segments: dict[GrainName, list[Segment]] = {}
    uses: list[Use] = []
    pieces = 0
    for grain, members in by_grain.items():
        changes: dict[int, dict[tuple[int, bool], int]] = defaultdict(lambda: defaultdict(int))
        for term in members:
            changes[term.low][(term.bucket, term.sales)] += term.sign
            changes[term.high][(term.bucket, term.sales)] -= term.sign
        counted: dict[tuple[int, bool], int] = defaultdict(int)
        found: list[tuple[int, int, tuple[tuple[tuple[int, bool], int], ...]]] = []
        for low, high in itertools.pairwise(sorted(changes)):
            for key, change in changes[low].items():
                counted[key] += change
            counts = tuple(sorted((key, n) for key, n in counted.items() if n))
            if not counts:
                continue
            if found and found[-1][1] == low and found[-1][2] == counts:
                found[-1] = (found[-1][0], high, counts)
            else:
                found.append((low, high, counts))
        segments[grain] = []
        for low, high, counts in found:
            piece = pieces
            pieces += 1
            segments[grain].append(Segment(low, high, piece))
            uses += [Use(piece, bucket, n, n if sales else 0) for (bucket, sales), n in counts]
    return Reads(segments=segments, uses=uses)


def uses_table(uses: Sequence[Use]) -> Subquery:
    """``uses`` as a table (piece, bucket, sign, sales_sign) of literal rows."""
    rows = ", ".join(
        f"({int(u.piece)}, {int(u.bucket)}, {int(u.sign)}, {int(u.sales_sign)})" for u in uses
    )
    # VALUES names its columns column1, column2, ... on both databases; the rows are
    # integers written by int() above.
    names = "column1 AS piece, column2 AS bucket, column3 AS sign, column4 AS sales_sign"
    sql = f"SELECT {names} FROM (VALUES {rows}) AS v"  # noqa: S608
    statement = text(sql).columns(
        *(column(name, Integer) for name in ("piece", "bucket", "sign", "sales_sign"))
    )
    return statement.subquery("uses")
