"""The codes of a batch as CSV, streamed in constant memory: its codes, and for
a batch issued to customers its list (customer as given, code).

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

import csv
import io
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import nullcontext
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from promo.codes.generation import Bind, held_connection
from promo.codes.models import Code, CodeBatchCustomer
from promo.csv_cells import neutralise
from promo.pii import Keyring

Cells = Sequence[str]

HEADER = b"code\n"
CUSTOMERS_HEADER = b"customer,code\n"
PAGE = 5_000


def _lines(rows: Sequence[Sequence[str]]) -> bytes:
    # Client text (a code may start with "-", a pattern's literal part; an id
    # with "=") is neutralised for spreadsheets.
    if not rows:
        return b""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows([neutralise(cell) for cell in row] for row in rows)
    return out.getvalue().encode("utf-8")


async def batch_codes_csv(bind: Bind, batch_id: int) -> AsyncIterator[bytes]:
    """``code`` then one display code per line, in the order they were generated."""
    query = select(Code.id, Code.code).where(Code.batch_id == batch_id)
    async for chunk in _csv(bind, HEADER, query, Code.id):
        yield chunk


async def batch_customers_csv(
    bind: Bind, batch_id: int, keyring: Keyring, purpose: bytes
) -> AsyncIterator[bytes]:
    """``customer,code``: each customer of the list as it was given (unsealed
    with ``purpose``), in upload order, with the code issued to it; customers
    still waiting, erased, or sealed under a key the keyring no longer holds
    are left out."""
    query = (
        select(CodeBatchCustomer.id, CodeBatchCustomer.given, Code.code)
        .join(Code, Code.id == CodeBatchCustomer.code_id)
        .where(CodeBatchCustomer.batch_id == batch_id, CodeBatchCustomer.given.is_not(None))
    )

    def opened(rows: Sequence[Cells]) -> list[Cells]:
        pairs = ((keyring.unseal(given, purpose), code) for given, code in rows)
        return [(given, code) for given, code in pairs if given is not None]

    async for chunk in _csv(bind, CUSTOMERS_HEADER, query, CodeBatchCustomer.id, opened):
        yield chunk


def _as_read(rows: Sequence[Cells]) -> Sequence[Cells]:
    return rows


async def _csv(
    bind: Bind,
    header: bytes,
    query: Any,
    key: Any,
    cells: Callable[[Sequence[Cells]], Sequence[Cells]] = _as_read,
) -> AsyncIterator[bytes]:
    """``header``, then the rows of ``query`` (its first column: ``key``, left
    out), as ``cells`` makes them."""
    yield header
    async with held_connection(bind) as connection:
        owns = connection is not bind
        if connection.dialect.name == "postgresql":
            pages = _snapshot_pages(connection, query.order_by(key), owns=owns)
        else:
            pages = _keyset_pages(connection, query, key, owns=owns)
        async for page in pages:
            yield _lines(cells(page))


async def _snapshot_pages(
    connection: AsyncConnection, query: Any, *, owns: bool
) -> AsyncIterator[list[Sequence[str]]]:
    if owns:
        await connection.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
    # A test's connection is already in a transaction: that is its snapshot.
    async with connection.begin() if owns else nullcontext():
        result = await connection.stream(query, execution_options={"yield_per": PAGE})
        async for rows in result.partitions():
            yield [row[1:] for row in rows]


async def _keyset_pages(
    connection: AsyncConnection, query: Any, key: Any, *, owns: bool
) -> AsyncIterator[list[Sequence[str]]]:
    after = 0
    while True:
        page = query.where(key > after).order_by(key).limit(PAGE)
        if owns:
            async with connection.begin():
                rows = (await connection.execute(page)).all()
        else:
            rows = (await connection.execute(page)).all()
        if not rows:
            return
        after = rows[-1][0]
        yield [row[1:] for row in rows]
