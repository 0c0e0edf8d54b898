"""Single-statement reads of the checkout's hot path: the API key and the offer.

Every checkout call reads its API key, and every validation its offer: one
statement each, outside any transaction. On PostgreSQL they go straight to
asyncpg through a small pool of their own. A read through SQLAlchemy costs
about 0.4-0.5 ms of CPU (pool checkout and return, session, execution
context) against about 0.08 ms for asyncpg's own prepared statement, which
on a validation is most of the service's time. The statements stay
SQLAlchemy's, compiled once for asyncpg. Elsewhere (SQLite, tests bound to
one connection, reads inside a transaction) they run through SQLAlchemy.
Both give rows as mappings (``row["column"]``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy import Executable, make_url
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

Row = Mapping[str, Any]


class Reads(Protocol):
    async def first(self, statement: Executable, params: Mapping[str, Any]) -> Row | None:
        """The first row of ``statement`` with ``params``, or None."""
        ...


class SessionReads:
    """Each read in a session of its own (see promo.db.engine.create_read_sessionmaker)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def first(self, statement: Executable, params: Mapping[str, Any]) -> Row | None:
        async with self._sessionmaker() as session:
            return await InSession(session).first(statement, params)


class InSession:
    """Reads inside the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def first(self, statement: Executable, params: Mapping[str, Any]) -> Row | None:
        connection = await self._session.connection()
        result = await connection.execute(statement, dict(params))
        return result.mappings().first()  # type: ignore[return-value]


class _Compiled:
    """A statement as asyncpg takes it: ``$n`` SQL and its parameters in order."""

    def __init__(self, statement: Executable) -> None:
        dialect = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]
        compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        self.sql: str = compiled.string
        self.names: list[str] = list(compiled.positiontup or [])
        self.defaults: dict[str, Any] = dict(compiled.params)

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        return [params[name] if name in params else self.defaults[name] for name in self.names]


async def _json_codecs(connection: Any) -> None:
    # As SQLAlchemy reads them: JSON columns come back as Python values.
    for name in ("json", "jsonb"):
        await connection.set_type_codec(
            name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def _nothing_to_reset(connection: Any) -> None:
    """These connections only ever run single SELECTs in autocommit: they hold no
    state to reset, and asyncpg's default reset is one more round trip per read."""


class AsyncpgReads:
    """Reads on a pool of asyncpg connections in autocommit; PostgreSQL only."""

    def __init__(self, database_url: str, size: int) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._size = size
        self._pool: Any = None
        self._starting: asyncio.Lock | None = None
        # By id, holding the statement so that its id is never reused.
        self._compiled: dict[int, tuple[Executable, _Compiled]] = {}

    async def _started(self) -> Any:
        """The pool, made on first use (in the worker's event loop)."""
        if self._pool is None:
            self._starting = self._starting or asyncio.Lock()
            async with self._starting:
                if self._pool is None:
                    import asyncpg

                    self._pool = await asyncpg.create_pool(
                        self._dsn,
                        min_size=1,
                        max_size=self._size,
                        init=_json_codecs,
                        reset=_nothing_to_reset,
                    )
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    async def first(self, statement: Executable, params: Mapping[str, Any]) -> Row | None:
        found = self._compiled.get(id(statement))
        if found is None:
            # Hot-path statements are module constants: compiled once per process.
            found = self._compiled[id(statement)] = (statement, _Compiled(statement))
        compiled = found[1]
        pool = self._pool if self._pool is not None else await self._started()
        row: Row | None = await pool.fetchrow(compiled.sql, *compiled.arguments(params))
        return row
