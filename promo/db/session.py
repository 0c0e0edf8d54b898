"""The per-request transaction: one per request, committed when the handler succeeds.

Services never commit; the dependency below does, after the handler returned
and before the response is sent, and rolls back when anything raised.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from promo.db.autocommit import AsyncpgAutocommit, InSession, Unit


async def provide_unit(state: State) -> AsyncIterator[Unit]:
    """The request's transaction on the checkout's hot path (redemptions): on
    asyncpg directly where the app has it (PostgreSQL, promo.db.autocommit),
    else a SQLAlchemy session's. Committed when the handler returns, rolled back
    when it raises, like ``provide_session``."""
    writes = state.writes
    if isinstance(writes, AsyncpgAutocommit):
        async with writes.transaction() as unit:
            yield unit
        return
    sessionmaker: async_sessionmaker[AsyncSession] = state.sessionmaker
    async with sessionmaker() as session, session.begin():
        yield InSession(session)


async def provide_session(state: State) -> AsyncIterator[AsyncSession]:
    sessionmaker: async_sessionmaker[AsyncSession] = state.sessionmaker
    async with sessionmaker() as session, session.begin():
        yield session
