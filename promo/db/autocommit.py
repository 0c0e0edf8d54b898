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

After a restart of PostgreSQL, asyncpg's pool replaces a connection it finds
closed when it hands it out; a statement on a connection that dies under it,
or a connection that cannot be opened, raises errors promo.errors classifies
as the database being away (503), and the next call connects afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol, runtime_checkable

import asyncpg
from sqlalchemy import Executable, make_url
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from promo.errors import DatabaseUnavailable
from promo.settings import Settings

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


# asyncpg keeps a statement prepared on its connection (parsed and planned once,
# a generic plan reused) only when its SQL is at most this long; a longer one is
# parsed and planned again on every call. asyncpg's default (15 KiB) is below the
# redemption's statement with its ``period`` step (16 KiB), which PostgreSQL then
# planned on every sale (about 1.7 ms of its CPU per request).
MAX_PREPARED_SQL = 64 * 1024


class _Compiled:
    """A statement as asyncpg takes it: ``$n`` SQL and its parameters in order."""

    def __init__(self, statement: Executable) -> None:
        dialect = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]
        compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        self.sql: str = compiled.string
        if len(self.sql) > MAX_PREPARED_SQL:
            # Hot-path statements are module constants that every PostgreSQL test
            # runs: one grown past the limit fails there, not in production.
            raise ValueError(
                f"a statement of {len(self.sql)} characters would be planned on every"
                f" call (asyncpg prepares at most {MAX_PREPARED_SQL}): {self.sql[:80]}..."
            )
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

    def __init__(self, settings: Settings) -> None:
        url = make_url(settings.database_url).set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._size = settings.db_pool_size
        self._connect_timeout = settings.db_connect_timeout_seconds
        self._command_timeout = settings.db_command_timeout_seconds
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
                    self._pool = await asyncpg.create_pool(
                        self._dsn,
                        # No floor: asyncpg would keep reconnecting in the background
                        # (a traceback a try) while the database is down; requests
                        # connect on demand instead.
                        min_size=0,
                        max_size=self._size,
                        init=_json_codecs,
                        reset=_nothing_to_reset,
                        max_cacheable_statement_size=MAX_PREPARED_SQL,
                        timeout=self._connect_timeout,
                        command_timeout=self._command_timeout,
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

    A connection the server closes while the transaction holds it (a restart)
    is detached by asyncpg's pool, whose every later call on it is an
    ``InterfaceError``, as any misuse of asyncpg is: a termination listener tells
    the two apart, and a lost connection is reported as the database being away.
    """

    dialect = "postgresql"

    def __init__(self, owner: AsyncpgAutocommit, pool: Any) -> None:
        self._owner = owner
        self._pool = pool
        self._connection: Any = None
        self._transaction: Any = None
        self._ended = False
        self._lost = False

    def _on_terminated(self, _connection: Any) -> None:
        self._lost = True

    async def _was_lost(self) -> bool:
        # asyncpg detaches the connection first and calls termination listeners
        # on the next turn of the event loop: give it that turn.
        await asyncio.sleep(0)
        return self._lost

    async def first(self, statement: Executable, params: Mapping[str, Any]) -> Row | None:
        if self._ended:
            raise RuntimeError("the transaction has ended")
        compiled = self._owner.compiled(statement)
        try:
            if self._connection is None:
                self._connection = await self._pool.acquire()
                self._connection.add_termination_listener(self._on_terminated)
                self._transaction = self._connection.transaction()
                await self._transaction.start()
            row: Row | None = await self._connection.fetchrow(
                compiled.sql, *compiled.arguments(params)
            )
        except asyncpg.InterfaceError:
            if await self._was_lost():
                raise DatabaseUnavailable("the connection was lost") from None
            raise
        return row

    async def rollback(self) -> None:
        await self._end(commit=False)

    async def commit(self) -> None:
        await self._end(commit=True)

    async def _end(self, *, commit: bool) -> None:
        if self._ended:
            return
        self._ended = True
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            await (self._transaction.commit() if commit else self._transaction.rollback())
        except asyncpg.InterfaceError:
            if not await self._was_lost():
                raise
            # The server ended the transaction with the connection: nothing was
            # committed, and nothing is left to roll back.
            if commit:
                raise DatabaseUnavailable("the connection was lost") from None
        finally:
            if not self._lost:
                with contextlib.suppress(asyncpg.InterfaceError):  # lost meanwhile
                    connection.remove_termination_listener(self._on_terminated)
            await self._pool.release(connection)
