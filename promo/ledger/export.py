"""Streaming the ledger as CSV or JSON lines, in constant memory.

A streamed body is read after the handler returned and its per-request
session closed, so the export opens its own connection with its own
snapshot (REPEATABLE READ on PostgreSQL; a deferred read transaction on
SQLite, which WAL keeps from blocking writers) and reads in id order.
Amounts are decimal major units per currency exponent; timestamps are UTC
ISO 8601; ids are the public ones. In CSV, client text that would start a
spreadsheet formula is neutralised (``promo.csv_cells``); JSON lines keep it
as written.

PostgreSQL renders the rows itself, a chunk per query, on two connections
sharing one snapshot (``promo.ledger.export_sql``, ``export_streams``); on
SQLite this module renders them from a server-side cursor. Both write the
same bytes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine

from promo.csv_cells import neutralise
from promo.ids import Kind, encode
from promo.ledger.export_sql import FREE_TEXT
from promo.ledger.export_streams import stream_rendered
from promo.ledger.service import Filters, entries, entries_with_payout, filter_clauses
from promo.money import to_major_units

COLUMNS = (
    "id",
    "created_at",
    "kind",
    "redemption_id",
    "order_id",
    "code",
    "campaign_id",
    "affiliate_id",
    "currency",
    "order_amount",
    "discount",
    "commission",
    "available_at",
    "payout_id",
    "note",
    # What priced the commission (after the columns of round one).
    "plan_id",
    "plan_revision",
    "rate",
    "conversion_id",
)
BATCH_ROWS = 5000
CENT = Decimal("0.01")
_FREE_TEXT_AT = frozenset(COLUMNS.index(name) for name in FREE_TEXT)


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def export_row(row: Any) -> tuple[str, ...]:
    currency = row.currency
    return (
        encode(Kind.LEDGER_ENTRY, row.id),
        _instant(row.created_at),
        row.kind,
        encode(Kind.REDEMPTION, row.redemption_id) if row.redemption_id is not None else "",
        row.order_id or "",
        row.code or "",
        encode(Kind.CAMPAIGN, row.campaign_id) if row.campaign_id is not None else "",
        encode(Kind.AFFILIATE, row.affiliate_id) if row.affiliate_id is not None else "",
        currency,
        to_major_units(row.order_amount, currency),
        to_major_units(row.discount, currency),
        to_major_units(row.commission, currency),
        _instant(row.available_at),
        encode(Kind.PAYOUT, row.paid_by) if row.paid_by is not None else "",
        row.note or "",
        encode(Kind.COMMISSION_PLAN, row.plan_id) if row.plan_id is not None else "",
        str(row.plan_revision) if row.plan_revision is not None else "",
        str(Decimal(row.rate).quantize(CENT)) if row.rate is not None else "",
        encode(Kind.CONVERSION, row.conversion_id) if row.conversion_id is not None else "",
    )


def _csv(rows: list[tuple[str, ...]], header: bool) -> bytes:
    if not rows and not header:
        return b""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180
    if header:
        writer.writerow(COLUMNS)
    writer.writerows(
        [neutralise(v) if i in _FREE_TEXT_AT else v for i, v in enumerate(row)] for row in rows
    )
    return buffer.getvalue().encode()


def _jsonl(rows: list[tuple[str, ...]], header: bool) -> bytes:
    encoder = msgspec.json.Encoder()
    return b"".join(
        encoder.encode({k: (v if v != "" else None) for k, v in zip(COLUMNS, row, strict=True)})
        + b"\n"
        for row in rows
    )


FORMATS: dict[str, tuple[str, Callable[[list[tuple[str, ...]], bool], bytes]]] = {
    "csv": ("text/csv", _csv),  # Litestar adds "; charset=utf-8" to text/*
    "jsonl": ("application/x-ndjson", _jsonl),
}


async def stream_ledger(engine: AsyncEngine, filters: Filters, fmt: str) -> AsyncIterator[bytes]:
    """Yield the export in chunks of about ``BATCH_ROWS`` rows, the header first."""
    _, render = FORMATS[fmt]
    yield render([], True)
    if engine.dialect.name == "postgresql":
        async for chunk in stream_rendered(engine, filters, fmt):
            yield chunk
        return
    async with engine.connect() as connection:
        connection = await connection.execution_options(promo_read_only=True)
        query = entries_with_payout().where(*filter_clauses(filters)).order_by(entries.c.id)
        result = await connection.stream(query.execution_options(yield_per=BATCH_ROWS))
        async for partition in result.partitions(BATCH_ROWS):
            yield render([export_row(row) for row in partition], False)
