"""Writing events in the caller's transaction, and reading them back as sent.

Every event's payload is JSON bytes rendered by its domain from the Struct
the API answers with (``msgspec.json.encode``), stored as the database's
JSON (PostgreSQL ``json`` keeps the text as given) and read back as that
text, so a delivery carries the same bytes the API would answer. The
checkout writes its event inside its one statement (promo.checkout.steps,
step ``event``) with the same ``json_document`` expression.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, cast

import msgspec
from sqlalchemy import LargeBinary, Table, Text, bindparam, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import JSON

from promo.db import dialect
from promo.events.models import Event

events = cast(Table, Event.__table__)


class EventType(StrEnum):
    """Every type of event, as subscriptions name them. reservation.expired comes
    with the feature that makes it (a later issue)."""

    REDEMPTION_CREATED = "redemption.created"
    REDEMPTION_REFUNDED = "redemption.refunded"
    REDEMPTION_ROLLED_BACK = "redemption.rolled_back"
    PAYOUT_CREATED = "payout.created"
    CODE_BATCH_COMPLETED = "code_batch.completed"
    CODE_BATCH_FAILED = "code_batch.failed"
    COMMISSION_AVAILABLE = "commission.available"
    CAMPAIGN_BUDGET_THRESHOLD = "campaign.budget_threshold"
    CONVERSION_CREATED = "conversion.created"
    CONVERSION_REJECTED = "conversion.rejected"
    REFERRAL_REWARDED = "referral.rewarded"
    REFERRAL_REVOKED = "referral.revoked"


class _JsonDocument(ColumnElement[Any]):
    """UTF-8 JSON bytes as the database's JSON value."""

    inherit_cache = True
    _traverse_internals = [("value", InternalTraversal.dp_clauseelement)]
    type = JSON()

    def __init__(self, value: ColumnElement[Any]) -> None:
        self.value = value

    @property
    def _from_objects(self) -> Any:
        # What ``value`` selects from (the redemption's CTE, in the checkout's statement).
        return self.value._from_objects


@compiles(_JsonDocument)
def _as_text(element: _JsonDocument, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(element.value, **kw)} AS TEXT)"


@compiles(_JsonDocument, "postgresql")
def _as_json(element: _JsonDocument, compiler: Any, **kw: Any) -> str:
    return f"CAST(convert_from({compiler.process(element.value, **kw)}, 'UTF8') AS JSON)"


def json_document(value: ColumnElement[Any]) -> ColumnElement[Any]:
    """``value`` (bytes of a JSON document) as what the ``payload`` column holds."""
    return _JsonDocument(value)


def encode(payload: msgspec.Struct | dict[str, Any]) -> bytes:
    return msgspec.json.encode(payload)


async def emit(
    session: AsyncSession,
    type_: EventType,
    payload: msgspec.Struct | dict[str, Any],
    *,
    now: datetime,
    key: str | None = None,
) -> int | None:
    """Record an event in the caller's transaction: its id, or None when an event
    with ``key`` exists already (it happened once, and was told once)."""
    statement = (
        dialect.insert(session, events)
        .values(
            type=type_.value,
            payload=json_document(bindparam("document", encode(payload), type_=LargeBinary)),
            key=key,
            created_at=now,
        )
        .returning(events.c.id)
    )
    if key is not None:
        statement = statement.on_conflict_do_nothing(
            index_elements=["key"], index_where=events.c.key.is_not(None)
        )
    return cast(int | None, await session.scalar(statement))


# The payload as stored text (the bytes it was written from).
PAYLOAD_TEXT = sql_cast(events.c.payload, Text).label("payload_text")


def event_columns() -> Any:
    return select(events.c.id, events.c.type, events.c.created_at, PAYLOAD_TEXT)
