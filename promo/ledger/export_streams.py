"""The PostgreSQL export: chunks rendered by two backends at once, sent in id order.

Rendering is the database's CPU work, so two connections share it, as
``pg_dump --jobs`` does: the first opens a REPEATABLE READ transaction and
exports its snapshot, the second imports it (``SET TRANSACTION SNAPSHOT``),
and both see exactly the same rows. The entries the filters select are cut
into ranges of ids holding ``CHUNK_ROWS`` each (found in one walk of the
primary key); connection ``i`` renders ranges ``i``, ``i + n``, ... in turn,
one ahead at most, and the chunks go out in range order. Memory stays at a few chunks whatever the
export's size.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from typing import Any

from sqlalchemy import Select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from promo.ledger import export_sql
from promo.ledger.service import Filters

CHUNK_ROWS = 5000
# PostgreSQL backends rendering at once: this machine kind has two cores.
STREAMS = 2
EXPORT_SNAPSHOT = text("SELECT pg_export_snapshot()")
SNAPSHOT_ID = re.compile(r"^[0-9A-F]+-[0-9A-F]+-[0-9]+$")

Range = tuple[int, int]
Chunk = bytes | BaseException | None


async def _repeatable_read(engine: AsyncEngine, stack: AsyncExitStack) -> AsyncConnection:
    connection = await stack.enter_async_context(engine.connect())
    return await connection.execution_options(isolation_level="REPEATABLE READ")


async def exported_snapshot(
    engine: AsyncEngine, stack: AsyncExitStack
) -> tuple[AsyncConnection, str]:
    """A connection in a REPEATABLE READ transaction, and its snapshot's id for
    ``joined``; both last until ``stack`` closes."""
    connection = await _repeatable_read(engine, stack)
    return connection, str(await connection.scalar(EXPORT_SNAPSHOT))


async def joined(engine: AsyncEngine, stack: AsyncExitStack, snapshot: str) -> AsyncConnection:
    """Another connection that sees exactly what the snapshot's exporter sees."""
    if not SNAPSHOT_ID.match(snapshot):
        raise ValueError(f"unexpected snapshot id {snapshot!r}")
    connection = await _repeatable_read(engine, stack)
    # A utility statement takes no parameters; the id is PostgreSQL's own.
    await connection.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
    return connection


async def stream_rendered(
    engine: AsyncEngine,
    filters: Filters,
    fmt: str,
    *,
    streams: int = STREAMS,
    chunk_rows: int = CHUNK_ROWS,
) -> AsyncIterator[bytes]:
    """The export's rows as PostgreSQL renders them (no header), in id order."""
    statement = export_sql.chunk(filters, export_sql.LINES[fmt])
    async with AsyncExitStack() as stack:
        leader, snapshot = await exported_snapshot(engine, stack)
        starts = list(await leader.scalars(export_sql.chunk_starts(filters, chunk_rows)))
        if not starts:
            return
        end = int(await leader.scalar(export_sql.last_id(filters))) + 1
        ranges = list(zip(starts, [*starts[1:], end], strict=True))
        connections = [leader]
        for _ in range(min(streams, len(ranges)) - 1):
            connections.append(await joined(engine, stack, snapshot))
        async for chunk in _in_order(connections, statement, ranges):
            yield chunk


async def _in_order(
    connections: Sequence[AsyncConnection], statement: Select[Any], ranges: list[Range]
) -> AsyncIterator[bytes]:
    count = len(connections)
    queues: list[asyncio.Queue[Chunk]] = [asyncio.Queue(maxsize=1) for _ in connections]
    workers = [
        asyncio.create_task(_render(connection, statement, ranges[i::count], queues[i]))
        for i, connection in enumerate(connections)
    ]
    try:
        for position in range(len(ranges)):
            chunk = await queues[position % count].get()
            if isinstance(chunk, BaseException):
                raise chunk
            if chunk:
                yield chunk
    finally:
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


async def _render(
    connection: AsyncConnection,
    statement: Select[Any],
    ranges: list[Range],
    queue: asyncio.Queue[Chunk],
) -> None:
    """Render ``ranges`` in turn on one connection; a failure is handed on."""
    try:
        for low, high in ranges:
            rendered = await connection.scalar(statement, {"low": low, "high": high})
            await queue.put(rendered.encode() if rendered is not None else None)
    except Exception as exc:
        await queue.put(exc)
