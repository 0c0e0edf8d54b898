"""Single statements that commit by themselves: the checkout's hot path.

Every checkout call reads its API key, every validation its offer, and every
redemption claims its Idempotency-Key: one statement each, outside the
request's transaction. On PostgreSQL they go straight to asyncpg, in
autocommit, through a small pool of their own: a statement through
SQLAlchemy costs about 0.4-0.5 ms of CPU (pool checkout and return, session,
execution context) against about 0.08 ms for asyncpg's own prepared
statement, which on a validation is most of the service's time. The
statements stay SQLAlchemy's, compiled once for asyncpg. Elsewhere (SQLite,
tests bound to one connection) they run through a SQLAlchemy session of
their own each. Rows come back as mappings (``row["column"]``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Executable, make_url
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

Row = Mapping[str, Any]


class Autocommit(Protocol):
    dialect: str  # "postgresql" or "sqlite": which prebuilt statement to pass

    async def first(self, statement: Executable, params: Mapping[str, Any]) -> Row | None:
        """Run ``statement`` with ``params`` on its own; its first row, or None."""
        ...


@runtime_checkable  # Litestar checks injected dependencies against their annotation
class Unit(Autocommit, Protocol):
    """Statements inside one transaction, which the caller may roll back."""

    async def rollback(self) -> None: ...


class Transactional(Autocommit, Protocol):
    """Single statements, or several in a transaction of their own."""

    def transaction(self) -> AbstractAsyncContextManager[Unit]:
        """A transaction, committed when the block ends, rolled back if it raises."""
        ...


class SessionAutocommit:
    """Each statement in a SQLAlchemy session of its own, from ``sessionmaker``
    (promo.db.engine: read sessions, or the usual ones for writes)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], dialect: str) -> None:
        self._sessionmaker = sessionmaker
        self.dialect = dialect

    async def first(self, statement: Executable, params: Mapping[str, Any]) -> Row | None:
        async with self._sessionmaker() as session, session.begin():
            return await InSession(session).first(statement, params)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Unit]:
        async with self._sessionmaker() as session, session.begin():
            yield InSession(session)


class InSession:
    """The same calls, inside a SQLAlchemy session's transaction instead."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name

    async def rollback(self) -> None:
        await self.session.rollback()

    async def first(self, statement: Executable, params: Mapping[str, Any]) -> Row | None:
        connection = await self.session.connection()
        result = await connection.execute(statement, dict(params))
        if not result.returns_rows:
            return None
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
    """These connections run single statements in autocommit, or a transaction
    that is always committed or rolled back before they go back: they hold no
    state to reset, and asyncpg's default reset is one more round trip per call."""


class AsyncpgAutocommit:
    """Statements on a pool of asyncpg connections in autocommit; PostgreSQL only."""

    dialect = "postgresql"

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

    def compiled(self, statement: Executable) -> _Compiled:
        found = self._compiled.get(id(statement))
        if found is None:
            # Hot-path statements are module constants: compiled once per process.
            found = self._compiled[id(statement)] = (statement, _Compiled(statement))
        return found[1]

    async def first(self, statement: Executable, params: Mapping[str, Any]) -> Row | None:
        compiled = self.compiled(statement)
        pool = self._pool if self._pool is not None else await self._started()
        row: Row | None = await pool.fetchrow(compiled.sql, *compiled.arguments(params))
        return row

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncpgTransaction]:
        """A transaction, begun by its first statement; committed when the block
        ends, rolled back if it raises."""
        pool = self._pool if self._pool is not None else await self._started()
        unit = AsyncpgTransaction(self, pool)
        try:
            yield unit
        except BaseException:
            await unit.rollback()
            raise
        await unit.commit()


class AsyncpgTransaction:
    """A transaction on one asyncpg connection (``AsyncpgAutocommit.transaction``).

    The connection is taken from the pool by the first statement and given back
    as soon as the transaction ends, so that a request never holds one while it
    waits for another (its claim, its offer, a refusal stored on its own): with
    every connection held that way, the pool would deadlock under load.
    """

    dialect = "postgresql"

    def __init__(self, owner: AsyncpgAutocommit, pool: Any) -> None:
        self._owner = owner
        self._pool = pool
        self._connection: Any = None
        self._transaction: Any = None
        self._ended = False

    async def first(self, statement: Executable, params: Mapping[str, Any]) -> Row | None:
        if self._ended:
            raise RuntimeError("the transaction has ended")
        if self._connection is None:
            self._connection = await self._pool.acquire()
            self._transaction = self._connection.transaction()
            await self._transaction.start()
        compiled = self._owner.compiled(statement)
        row: Row | None = await self._connection.fetchrow(compiled.sql, *compiled.arguments(params))
        return row

    async def rollback(self) -> None:
        await self._end(commit=False)

    async def commit(self) -> None:
        await self._end(commit=True)

    async def _end(self, *, commit: bool) -> None:
        if self._ended:
            return
        self._ended = True
        if self._connection is None:
            return
        try:
            await (self._transaction.commit() if commit else self._transaction.rollback())
        finally:
            await self._pool.release(self._connection)
            self._connection = None
