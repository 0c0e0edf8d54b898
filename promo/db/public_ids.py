"""Public ids computed by PostgreSQL, equal to ``promo.ids.encode`` for every key.

Used where the database renders rows itself (the ledger export, a
redemption's stored answer), so that no Python runs per row. The constants
come from ``promo.ids``; a storage test checks both sides agree over the whole
range of keys.

A round (``y # (y >> 24)``) names its input twice, so one flat expression
doubles with every round. ``public_id`` is that flat expression, for a few
ids per statement; ``with_public_ids`` computes a round per subquery level
instead, which keeps the work per row linear for millions of rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Subquery, case, func, literal, literal_column, select
from sqlalchemy.sql import ColumnElement

from promo.ids import HALF, LOW_BITS, LOW_DIGITS, LOW_MASK, MULTIPLIERS, Kind, kind_constant


def _number(value: int) -> ColumnElement[Any]:
    # Inline, not bound: our own constants, and the expression repeats them.
    return literal_column(str(value))


def _low(key: ColumnElement[Any]) -> ColumnElement[Any]:
    return key.bitwise_and(_number(LOW_MASK))


def _round(x: ColumnElement[Any], multiplier: int) -> ColumnElement[Any]:
    def product() -> ColumnElement[Any]:
        return (x * _number(multiplier)).bitwise_and(_number(LOW_MASK))

    return product().bitwise_xor(product().bitwise_rshift(_number(HALF)))


def _written(
    kind: Kind, key: ColumnElement[Any], scrambled: ColumnElement[Any]
) -> ColumnElement[str]:
    """The public id of ``key``, given its scrambled low bits."""
    body = scrambled.bitwise_xor(_number(kind_constant(kind)))
    high = case(
        (key >= _number(1 << LOW_BITS), func.to_hex(key.bitwise_rshift(_number(LOW_BITS)))),
        else_=literal(""),
    )
    return literal(f"{kind.value}_") + high + func.lpad(func.to_hex(body), LOW_DIGITS, "0")


def public_id(kind: Kind, key: ColumnElement[Any]) -> ColumnElement[str]:
    """``encode(kind, key)`` as one expression; NULL when ``key`` is NULL."""
    x = _low(key)
    for multiplier in MULTIPLIERS:
        x = _round(x, multiplier)
    return _written(kind, key, x)


def with_public_ids(
    source: Subquery, keys: dict[str, Kind]
) -> tuple[Subquery, dict[str, ColumnElement[str]]]:
    """``source`` with the scrambled bits of its ``keys`` columns, one round per
    level, and the public id expressions over the result, by column name.

    ``OFFSET 0`` keeps PostgreSQL from merging the levels back into one
    expression.
    """
    scrambled = {name: f"{name}_scrambled" for name in keys}
    level = (
        select(*source.c, *(_low(source.c[name]).label(scrambled[name]) for name in keys))
        .offset(0)
        .subquery()
    )
    for multiplier in MULTIPLIERS:
        kept = [column for column in level.c if column.name not in scrambled.values()]
        rounds = (
            _round(level.c[scrambled[name]], multiplier).label(scrambled[name]) for name in keys
        )
        level = select(*kept, *rounds).offset(0).subquery()
    ids = {
        name: _written(kind, level.c[name], level.c[scrambled[name]]) for name, kind in keys.items()
    }
    return level, ids
