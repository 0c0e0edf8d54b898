"""The per-request transaction: one per request, committed when the handler succeeds.

Services never commit; the dependency below does, after the handler returned
and before the response is sent, and rolls back when anything raised.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


async def provide_session(state: State) -> AsyncIterator[AsyncSession]:
    sessionmaker: async_sessionmaker[AsyncSession] = state.sessionmaker
    async with sessionmaker() as session, session.begin():
        yield session
