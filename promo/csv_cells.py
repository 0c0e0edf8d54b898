"""The one rule for client text in a CSV cell: neutralise what a spreadsheet would run.

Spreadsheets evaluate a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a
formula, and some strip a leading TAB or CR before looking (OWASP "CSV
Injection"). A cell holding text a client wrote (order ids, codes, notes,
reasons) that starts with one of these gets a single quote in front, which
spreadsheets show as text. The numbers the service writes itself (``-5.00``)
never go through here, so they stay numbers.

Each CSV renderer takes the rule from this module: Python ones call
``neutralise``; PostgreSQL's export composes ``neutralise_sql``, built from the
same characters, into its query.
"""

from __future__ import annotations

from sqlalchemy import case, literal
from sqlalchemy.sql import ColumnElement

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"
# The same characters as a POSIX bracket expression ("-" last, so it is literal).
FORMULA_START_PATTERN = "^[" + "".join(sorted(FORMULA_STARTS, key=lambda c: c == "-")) + "]"


def neutralise(text: str) -> str:
    """``text`` as a spreadsheet must show it: quoted when it starts like a formula."""
    return TEXT_MARK + text if text.startswith(FORMULA_STARTS) else text


def neutralise_sql(text: ColumnElement[str]) -> ColumnElement[str]:
    """``neutralise`` as a SQL expression (NULL stays NULL)."""
    return case((text.regexp_match(FORMULA_START_PATTERN), literal(TEXT_MARK) + text), else_=text)
