"""``column IN <a list bound as one parameter>``, on both databases.

The checkout's statements are compiled once (for asyncpg, to positional
SQL), so a list cannot be spread into one placeholder per item as
SQLAlchemy's expanding parameters do at each execution. PostgreSQL takes the
list as one array (``= ANY(CAST(:p AS VARCHAR[]))``), SQLite as one JSON
text (``IN (SELECT value FROM json_each(:p))``): one placeholder each,
whatever the list's length, an empty list matching nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, String, bindparam
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import Boolean

LIST_OF_TEXT = JSON().with_variant(postgresql.ARRAY(String), "postgresql")


class InList(ColumnElement[bool]):
    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("param", InternalTraversal.dp_clauseelement),
    ]
    type = Boolean()
    # A condition in itself: never compared to 1 where booleans are integers (SQLite).
    _is_implicitly_boolean = True

    def __init__(self, column: ColumnElement[Any], param: ColumnElement[Any]) -> None:
        self.column = column
        self.param = param


@compiles(InList)
def _json_each(element: InList, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    param = compiler.process(element.param, **kw)
    return f"{column} IN (SELECT value FROM json_each({param}))"  # noqa: S608 (compiled SQL)


@compiles(InList, "postgresql")
def _any_of_array(element: InList, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"{column} = ANY(CAST({compiler.process(element.param, **kw)} AS VARCHAR[]))"


def in_list(column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    """``column`` is one of the texts bound as ``name`` (a list, maybe empty)."""
    return InList(column, bindparam(name, type_=LIST_OF_TEXT))
