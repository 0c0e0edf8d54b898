"""An import's refused lines as CSV, streamed in constant memory.

The stream outlives the request's session, so it reads on its own
connection, a page of lines at a time, each page in a short transaction (no
snapshot held for the whole download, no write lock held on SQLite). An
import only ever adds refused lines, in line order, round after round, so
the pages by line add up to the list as it was when the last page was read.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from contextlib import nullcontext

from sqlalchemy import select

from promo.codes.generation import Bind, held_connection
from promo.codes.import_models import CodeImportError
from promo.codes.imports_lines import message
from promo.csv_cells import neutralise

HEADER = ("line", "reason", "message", "code", "duplicate_of")
PAGE = 5_000


async def import_errors_csv(bind: Bind, import_id: int) -> AsyncIterator[bytes]:
    """A header, then one refused line per row, in line order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    yield out.getvalue().encode()
    after = 0
    async with held_connection(bind) as connection:
        owns = connection is not bind
        while True:
            query = (
                select(
                    CodeImportError.line,
                    CodeImportError.reason,
                    CodeImportError.detail,
                    CodeImportError.value,
                    CodeImportError.duplicate_of,
                )
                .where(CodeImportError.import_id == import_id, CodeImportError.line > after)
                .order_by(CodeImportError.line)
                .limit(PAGE)
            )
            async with connection.begin() if owns else nullcontext():
                rows = (await connection.execute(query)).all()
            if not rows:
                return
            after = rows[-1].line
            out.seek(0)
            out.truncate()
            for row in rows:
                writer.writerow(
                    (
                        row.line,
                        row.reason,
                        neutralise(message(row.reason, row.detail, row.duplicate_of)),
                        neutralise(row.value) if row.value is not None else "",
                        row.duplicate_of if row.duplicate_of is not None else "",
                    )
                )
            yield out.getvalue().encode()
