"""Public ids computed by PostgreSQL, equal to ``promo.ids.encode`` for every key.

Used where the database renders rows itself (the ledger export), so that no
Python runs per row. The constants come from ``promo.ids``; a storage test
checks both sides agree over the whole range of keys.

Each round writes its input twice (``x # (x >> 24)``): the expression tree
doubles per round, which PostgreSQL evaluates in well under a microsecond.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, literal, literal_column
from sqlalchemy.sql import ColumnElement

from promo.ids import HALF, LOW_BITS, LOW_DIGITS, LOW_MASK, MULTIPLIERS, Kind, kind_constant


def _number(value: int) -> ColumnElement[Any]:
    # Inline, not bound: our own constants, and the expression repeats them.
    return literal_column(str(value))


def public_id(kind: Kind, key: ColumnElement[Any]) -> ColumnElement[str]:
    """``encode(kind, key)`` in SQL (PostgreSQL); NULL when ``key`` is NULL."""
    x = key.bitwise_and(_number(LOW_MASK))
    for multiplier in MULTIPLIERS:
        x = (x * _number(multiplier)).bitwise_and(_number(LOW_MASK))
        x = x.bitwise_xor(x.bitwise_rshift(_number(HALF)))
    x = x.bitwise_xor(_number(kind_constant(kind)))
    high = case(
        (key >= _number(1 << LOW_BITS), func.to_hex(key.bitwise_rshift(_number(LOW_BITS)))),
        else_=literal(""),
    )
    return literal(f"{kind.value}_") + high + func.lpad(func.to_hex(x), LOW_DIGITS, "0")
