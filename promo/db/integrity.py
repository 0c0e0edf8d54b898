"""Which unique index refused a write, from the error the database raised.

Services turn a unique violation into the domain's answer (409 naming what
is taken) by the index's name, never by the message text. PostgreSQL names
the index (asyncpg's ``constraint_name``, SQLSTATE 23505). SQLite names only
the kind of violation (extended code ``SQLITE_CONSTRAINT_UNIQUE``), never the
index; there the answer is the table's one unique index besides its key, or
None when the table has several and the error cannot tell them apart.
"""

from __future__ import annotations

from sqlalchemy import Table, UniqueConstraint
from sqlalchemy.exc import IntegrityError

UNIQUE_VIOLATION = "23505"
SQLITE_UNIQUE = "SQLITE_CONSTRAINT_UNIQUE"


def _causes(exc: BaseException) -> list[BaseException]:
    """The error, SQLAlchemy's DBAPI error and the driver's own, outermost first."""
    found: list[BaseException] = []
    candidate: BaseException | None = exc
    while candidate is not None and candidate not in found:
        found.append(candidate)
        orig = getattr(candidate, "orig", None)
        candidate = orig if isinstance(orig, BaseException) else candidate.__cause__
    return found


def violated_unique_index(exc: IntegrityError, table: Table) -> str | None:
    """The name of ``table``'s unique index (or constraint) that refused the write, if known."""
    causes = _causes(exc)
    for cause in causes:
        name = getattr(cause, "constraint_name", None)
        if getattr(cause, "sqlstate", None) == UNIQUE_VIOLATION and isinstance(name, str):
            return name
    if any(getattr(cause, "sqlite_errorname", None) == SQLITE_UNIQUE for cause in causes):
        unique = [str(index.name) for index in table.indexes if index.unique]
        unique += [str(c.name) for c in table.constraints if isinstance(c, UniqueConstraint)]
        return unique[0] if len(unique) == 1 else None
    return None
