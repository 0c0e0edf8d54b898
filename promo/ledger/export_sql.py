"""The ledger export rendered by PostgreSQL: CSV and JSON lines, chunk by chunk.

Rendering a row in Python (public ids, major units, instants, CSV quoting)
costs tens of microseconds; PostgreSQL does the same in a few. Each chunk is
one query: the entries of a range of ids, rendered line by line and joined
into one text value, so the worker only passes text along
(``promo.ledger.export_streams`` runs the queries).
The output is byte for byte what ``promo.ledger.export`` renders in Python
(SQLite), which a storage test checks on hostile notes, all currency
exponents and the whole range of ids.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, Text, bindparam, case, cast, func, literal, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql import ColumnElement

from promo.csv_cells import FORMULA_START_PATTERN, neutralise_sql
from promo.db.public_ids import with_public_ids
from promo.ids import Kind
from promo.ledger.service import Filters, entries, filter_clauses, items
from promo.money import CURRENCY_EXPONENTS

Columns = Any  # a subquery's ``.c``
Ids = dict[str, ColumnElement[str]]
Line = Callable[[Columns, Ids], ColumnElement[str]]

# Instants as Python's ``%Y-%m-%dT%H:%M:%S.%fZ`` in UTC.
INSTANT_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
# Python's csv module (QUOTE_MINIMAL) quotes a field holding one of these.
NEEDS_QUOTES = '[",\r\n]'
# The columns holding text a client wrote: CSV neutralises what would start a
# formula (``promo.csv_cells``) and quotes; JSON escapes. Both renderers use this.
FREE_TEXT = ("order_id", "code", "note")


def _unit() -> ColumnElement[Any]:
    """The value of one minor unit in major units: ``amount * unit`` has exactly
    ``exponent`` decimals, as ``to_major_units`` writes them."""
    by_exponent: dict[int, list[str]] = {}
    for currency, places in CURRENCY_EXPONENTS.items():
        by_exponent.setdefault(places, []).append(currency)
    common = max(by_exponent, key=lambda places: len(by_exponent[places]))
    return case(
        *(
            (entries.c.currency.in_(codes), literal_column(_unit_literal(places)))
            for places, codes in sorted(by_exponent.items())
            if places != common
        ),
        else_=literal_column(_unit_literal(common)),
    )


def _unit_literal(places: int) -> str:
    return "1::numeric" if places == 0 else f"0.{'0' * (places - 1)}1"


def _major(c: Columns, name: str) -> ColumnElement[str]:
    return cast(c[name] * c.unit, Text)


def _instant(value: ColumnElement[Any]) -> ColumnElement[str]:
    return func.to_char(func.timezone("UTC", value), INSTANT_FORMAT)


# The public ids of the export, by the page's column that holds their key.
ID_COLUMNS = {
    "id": Kind.LEDGER_ENTRY,
    "redemption_id": Kind.REDEMPTION,
    "campaign_id": Kind.CAMPAIGN,
    "affiliate_id": Kind.AFFILIATE,
    "paid_by": Kind.PAYOUT,
    "plan_id": Kind.COMMISSION_PLAN,
    "conversion_id": Kind.CONVERSION,
}


def _fields(c: Columns, ids: Ids) -> list[tuple[str, ColumnElement[str], bool]]:
    """(column, text or NULL, free text?) in the export's column order."""
    fields: list[tuple[str, ColumnElement[str]]] = [
        ("id", ids["id"]),
        ("created_at", _instant(c.created_at)),
        ("kind", c.kind),
        ("redemption_id", ids["redemption_id"]),
        ("order_id", func.nullif(c.order_id, "")),
        ("code", func.nullif(c.code, "")),
        ("campaign_id", ids["campaign_id"]),
        ("affiliate_id", ids["affiliate_id"]),
        ("currency", c.currency),
        ("order_amount", _major(c, "order_amount")),
        ("discount", _major(c, "discount")),
        ("commission", _major(c, "commission")),
        ("available_at", _instant(c.available_at)),
        ("payout_id", ids["paid_by"]),
        ("note", func.nullif(c.note, "")),
        ("plan_id", ids["plan_id"]),
        ("plan_revision", cast(c.plan_revision, Text)),
        ("rate", cast(c.rate, Text)),
        ("conversion_id", ids["conversion_id"]),
    ]
    return [(name, value, name in FREE_TEXT) for name, value in fields]


def _csv_field(value: ColumnElement[str], free_text: bool) -> ColumnElement[str]:
    if not free_text:
        return func.coalesce(value, literal(""))
    # Most text needs neither: one regular expression decides, as before the rule.
    special = value.regexp_match(f"{FORMULA_START_PATTERN}|{NEEDS_QUOTES}")
    shown = neutralise_sql(value)
    quoted = literal('"') + func.replace(shown, '"', '""') + literal('"')
    rendered = case((shown.regexp_match(NEEDS_QUOTES), quoted), else_=shown)
    return case((special, rendered), else_=func.coalesce(value, ""))


def csv_line(c: Columns, ids: Ids) -> ColumnElement[str]:
    """One RFC 4180 record, CRLF included; client text neutralised (``promo.csv_cells``)."""
    first, *rest = (_csv_field(value, free_text) for _, value, free_text in _fields(c, ids))
    line = first
    for field in rest:
        line = line + literal(",") + field
    return line + literal("\r\n")


def jsonl_line(c: Columns, ids: Ids) -> ColumnElement[str]:
    """One compact JSON object per line, as msgspec writes it; empty fields are null."""
    line: ColumnElement[str] = literal("{")
    for position, (name, value, free_text) in enumerate(_fields(c, ids)):
        text = func.to_json(value).cast(Text) if free_text else literal('"') + value + '"'
        separator = "," if position else ""
        line = line + literal(f'{separator}"{name}":') + func.coalesce(text, "null")
    return line + literal("}\n")


def chunk(filters: Filters, line: Line) -> Select[Any]:
    """The text of the entries whose ids are in [``low``, ``high``) (parameters),
    rendered and joined in id order; NULL when there are none. Built once per
    export, so it is compiled and prepared once."""
    page = (
        select(
            *entries.c,
            func.coalesce(entries.c.payout_id, items.c.payout_id).label("paid_by"),
            _unit().label("unit"),
        )
        .select_from(entries.outerjoin(items, items.c.entry_id == entries.c.id))
        .where(
            entries.c.id >= bindparam("low"),
            entries.c.id < bindparam("high"),
            *filter_clauses(filters),
        )
        .subquery("page")
    )
    rendered, ids = with_public_ids(page, ID_COLUMNS)
    c = rendered.c
    return select(func.string_agg(line(c, ids), aggregate_order_by(literal_column("''"), c.id)))


def chunk_starts(filters: Filters, rows: int) -> Select[Any]:
    """The id of every ``rows``-th entry the export covers, the first included, in
    order: chunks of at most ``rows`` entries, however sparse the ids are. One walk
    of the primary key's index."""
    numbered = (
        select(entries.c.id, func.row_number().over(order_by=entries.c.id).label("n"))
        .where(*filter_clauses(filters))
        .subquery()
    )
    return (
        select(numbered.c.id)
        .where((numbered.c.n - 1) % literal_column(str(rows)) == 0)
        .order_by(numbered.c.id)
    )


def last_id(filters: Filters) -> Select[Any]:
    return select(func.max(entries.c.id)).where(*filter_clauses(filters))


LINES: dict[str, Line] = {"csv": csv_line, "jsonl": jsonl_line}
