"""The codes of a batch as CSV, streamed in constant memory.

A streamed body is read after the handler returned and its request session
closed, so the stream opens its own connection:

- PostgreSQL: one ``REPEATABLE READ`` read-only transaction (one snapshot for
  the whole file) and a server-side cursor.
- SQLite: pages by id, each in a short transaction, so the download never
  holds the database's write lock (every SQLite transaction takes it here).
  A batch's codes are only ever added, never deleted, so the pages add up to
  the same list.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import nullcontext

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from promo.codes.generation import Bind, held_connection
from promo.codes.models import Code
from promo.csv_cells import neutralise

HEADER = b"code\n"
PAGE = 5_000


def _lines(codes: list[str]) -> bytes:
    # A code may start with "-" (a pattern's literal part): neutralised for spreadsheets.
    return ("\n".join(map(neutralise, codes)) + "\n").encode("ascii") if codes else b""


async def batch_codes_csv(bind: Bind, batch_id: int) -> AsyncIterator[bytes]:
    """``code`` then one display code per line, in the order they were generated."""
    yield HEADER
    async with held_connection(bind) as connection:
        owns = connection is not bind
        if connection.dialect.name == "postgresql":
            pages = _snapshot_pages(connection, batch_id, owns=owns)
        else:
            pages = _keyset_pages(connection, batch_id, owns=owns)
        async for page in pages:
            yield _lines(page)


async def _snapshot_pages(
    connection: AsyncConnection, batch_id: int, *, owns: bool
) -> AsyncIterator[list[str]]:
    query = select(Code.code).where(Code.batch_id == batch_id).order_by(Code.id)
    if owns:
        await connection.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
    # A test's connection is already in a transaction: that is its snapshot.
    async with connection.begin() if owns else nullcontext():
        result = await connection.stream(query, execution_options={"yield_per": PAGE})
        async for rows in result.partitions():
            yield [row[0] for row in rows]


async def _keyset_pages(
    connection: AsyncConnection, batch_id: int, *, owns: bool
) -> AsyncIterator[list[str]]:
    after = 0
    while True:
        query = (
            select(Code.id, Code.code)
            .where(Code.batch_id == batch_id, Code.id > after)
            .order_by(Code.id)
            .limit(PAGE)
        )
        if owns:
            async with connection.begin():
                rows = (await connection.execute(query)).all()
        else:
            rows = (await connection.execute(query)).all()
        if not rows:
            return
        after = rows[-1][0]
        yield [row[1] for row in rows]
