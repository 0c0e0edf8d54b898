"""The performance report as CSV, by the house rules of exports (promo.ledger.export).

RFC 4180 with a header and CRLF line ends; amounts in decimal major units of
the row's currency (``19.99``, JPY ``1999``); instants in UTC ISO 8601; ratios
as the JSON gives them; an absent value is an empty cell. Text a client chose
(codes, channel labels) goes through ``promo.csv_cells.neutralise``, so a
spreadsheet shows it rather than running it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime

from promo.csv_cells import neutralise
from promo.money import to_major_units
from promo.reports.schemas import PerformanceRow

COLUMNS = (
    "bucket",
    "start",
    "end",
    "campaign_id",
    "affiliate_id",
    "code",
    "channel",
    "currency",
    "validations_tried",
    "validations_valid",
    "redemptions",
    "validation_to_redemption_rate",
    "revenue",
    "discount",
    "commission",
    "refunds",
    "refunds_count",
    "net_revenue",
    "cost_per_sale",
    "return_on_cost",
)
AMOUNTS = frozenset(
    {"revenue", "discount", "commission", "refunds", "net_revenue", "cost_per_sale"}
)
FREE_TEXT = frozenset({"code", "channel"})


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cell(row: PerformanceRow, name: str) -> str:
    value = getattr(row, name)
    if value is None:
        return ""
    if name in AMOUNTS:
        return to_major_units(value, row.currency)
    if name in FREE_TEXT:
        return neutralise(value)
    if isinstance(value, datetime):
        return _instant(value)
    return str(value)


def render_csv(rows: Sequence[PerformanceRow]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows([_cell(row, name) for name in COLUMNS] for row in rows)
    return buffer.getvalue().encode()
