"""Idempotency-Key records: replay, conflict and in-flight rules for every money POST.

The first request with a key inserts a row ``in_progress`` in its own short
transaction (the unique key makes the database the judge of "first"), does
its work, and stores the response. A repeat with the same body gets the
stored response; with another body 422; while the first still runs 409.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import datetime, timedelta
from typing import Any, cast

import msgspec
from sqlalchemy import (
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    delete,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from promo.clock import Clock
from promo.db import dialect
from promo.db.autocommit import Autocommit
from promo.db.metadata import Base, BigId, UtcDateTime
from promo.errors import BadRequest, Conflict, FieldError, Invalid


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The owner the key belongs to: role and affiliate of the API key, and the route.
    scope: Mapped[str] = mapped_column(String(128))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


IN_FLIGHT_WAIT_SECONDS = 10.0
IN_FLIGHT_POLL_SECONDS = 0.05
# A record still in progress after this long belongs to a request that died
# (process killed between claiming the key and committing): it is taken over.
ABANDONED_AFTER = timedelta(minutes=2)
MAX_KEY_LENGTH = 255

records = cast(Table, IdempotencyRecord.__table__)


class Replay(msgspec.Struct, frozen=True):
    status_code: int
    body: bytes


def request_fingerprint(scope: str, payload: msgspec.Struct) -> str:
    """The same request, however its JSON was spaced or ordered, hashes the same."""
    return hashlib.sha256(scope.encode() + b"\0" + msgspec.json.encode(payload)).hexdigest()


def check_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise BadRequest("idempotency_key_required", "This request needs an Idempotency-Key header")
    if len(key) > MAX_KEY_LENGTH:
        raise Invalid.field(
            "Idempotency-Key", f"at most {MAX_KEY_LENGTH} characters", "invalid_idempotency_key"
        )
    return key


def _claim(insert: Any) -> Any:
    return (
        insert(records)
        .values(
            scope=bindparam("scope"),
            key=bindparam("key"),
            request_hash=bindparam("request_hash"),
            created_at=bindparam("created_at"),
        )
        .on_conflict_do_nothing(index_elements=["scope", "key"])
        .returning(records.c.id)
    )


# Built once, with bound parameters (see promo.redemptions.queries).
CLAIM = dialect.prebuilt(_claim)
COMPLETE = (
    update(records)
    .where(records.c.id == bindparam("record_id"))
    .values(
        status_code=bindparam("status_code"),
        response_body=bindparam("response_body"),
        completed_at=bindparam("completed_at"),
    )
    .returning(records.c.id)
)


FIND = select(records).where(
    records.c.scope == bindparam("scope"), records.c.key == bindparam("key")
)
FORGET = delete(records).where(records.c.id == bindparam("record_id")).returning(records.c.id)


async def claim(
    writes: Autocommit,
    *,
    scope: str,
    key: str,
    fingerprint: str,
    clock: Clock,
) -> int | Replay:
    """Claim ``key`` for this request (its record id), or the first response to replay.

    The claim commits on its own (``writes``: promo.db.autocommit), before the
    work starts, so a concurrent request with the same key sees it. Raises 422
    when the key was used with another body, 409 when the first request is
    still running.
    """
    deadline = time.monotonic() + IN_FLIGHT_WAIT_SECONDS
    while True:
        params = {"scope": scope, "key": key, "request_hash": fingerprint, "created_at": clock()}
        claimed = await writes.first(CLAIM[writes.dialect], params)
        if claimed is not None:
            return int(claimed["id"])
        row = await writes.first(FIND, {"scope": scope, "key": key})
        if row is None:
            continue  # forgotten meanwhile (released, or purged): claim again
        if row["request_hash"] != fingerprint:
            raise Invalid(
                "idempotency_key_reused",
                "This Idempotency-Key was used with a different request",
                errors=[FieldError("Idempotency-Key", "already used for another request")],
            )
        if row["status_code"] is not None:
            return Replay(status_code=row["status_code"], body=row["response_body"] or b"")
        if clock() - row["created_at"] > ABANDONED_AFTER:
            await writes.first(FORGET, {"record_id": row["id"]})
            continue
        if time.monotonic() >= deadline:
            raise Conflict(
                "request_in_progress",
                "A request with this Idempotency-Key is still being processed; retry later",
            )
        await asyncio.sleep(IN_FLIGHT_POLL_SECONDS)


async def complete(
    unit: Autocommit, record_id: int, *, status_code: int, body: bytes, clock: Clock
) -> None:
    """Store the response: in the transaction of the work it describes (``unit``),
    or on its own (a refusal, whose work was rolled back)."""
    params = {
        "record_id": record_id,
        "status_code": status_code,
        "response_body": body,
        "completed_at": clock(),
    }
    await unit.first(COMPLETE, params)


async def release(writes: Autocommit, record_id: int) -> None:
    """Forget a claim whose request failed unexpectedly, so that a retry runs again."""
    await writes.first(FORGET, {"record_id": record_id})


async def purge(session: AsyncSession, *, older_than: datetime) -> int:
    """Drop records older than the retention (24 h at least, per the contract)."""
    result = await session.execute(delete(records).where(records.c.created_at < older_than))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
