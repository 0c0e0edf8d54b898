"""``utc_hour(instant column)``: the UTC hour an instant falls in, on both databases.

Hours are counted from 1970-01-01T00:00Z (promo.reports.buckets.hour_of is
the same in Python). PostgreSQL takes the epoch of the ``timestamptz``;
SQLite the epoch of the UTC text SQLAlchemy stores (``strftime('%s')`` reads
the fractional seconds and drops them). The constant is written into the
SQL, not bound, so that a GROUP BY on the expression is the same text as the
SELECT's.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

HOUR_SECONDS = 3600


class utc_hour(FunctionElement[int]):
    type = Integer()
    inherit_cache = True
    name = "utc_hour"

    def __init__(self, instant: ColumnElement[Any]) -> None:
        super().__init__(instant)


@compiles(utc_hour)
def _sqlite(element: utc_hour, compiler: Any, **kw: Any) -> str:
    instant = compiler.process(element.clauses, **kw)
    return f"(CAST(strftime('%s', {instant}) AS INTEGER) / {HOUR_SECONDS})"


@compiles(utc_hour, "postgresql")
def _postgresql(element: utc_hour, compiler: Any, **kw: Any) -> str:
    instant = compiler.process(element.clauses, **kw)
    return f"CAST(floor(EXTRACT(EPOCH FROM {instant}) / {HOUR_SECONDS}) AS INTEGER)"
