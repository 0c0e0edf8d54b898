"""The few places where PostgreSQL and SQLite need different SQL, named once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession


def is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def insert(session: AsyncSession, table: Any) -> Any:
    """An INSERT that supports ``ON CONFLICT`` (DO NOTHING / DO UPDATE) on either database."""
    return pg_insert(table) if is_postgres(session) else sqlite_insert(table)


def prebuilt(build: Callable[[Any], Any]) -> dict[str, Any]:
    """``build(insert)`` once for each database, with its ``ON CONFLICT`` insert."""
    return {"postgresql": build(pg_insert), "sqlite": build(sqlite_insert)}


def for_dialect(session: AsyncSession, statements: dict[str, Any]) -> Any:
    """The statement prebuilt for the session's database (``postgresql``/``sqlite``)."""
    return statements["postgresql" if is_postgres(session) else "sqlite"]
