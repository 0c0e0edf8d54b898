"""Idempotency-Key: the first answer given under a key is the only one, ever.

An answer is stored in the same transaction (on PostgreSQL's one-statement
redemption, the same statement) as the effect it describes, so "done" and
"recorded as done" cannot disagree, and there is no "in progress" state that
another host would have to judge stale by its own clock. A second request
with the key waits on the first's uncommitted row (the unique index is the
judge) and then replays what the first committed; if the first died, its
transaction died with it and the second runs. A stalled request can
therefore never commit an effect beside its retry's.

What is stored: every answer the operation gave once it ran, successes and
refusals (409 with their reason, or a 404 for what it acts on) alike;
replayed with ``Idempotent-Replayed: true``. Not stored: input rejected
before it ran (400, 422), a 429 (an answer to the timing, not the request),
503 and unexpected failures: a retry runs again.

Keys are scoped to the operation and the API key (or console account) that
sent them, so two checkout integrations never see each other's answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, cast

import msgspec
from litestar import Response
from sqlalchemy import Table, bindparam, delete, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from promo.auth.roles import Principal
from promo.checkout.models import IdempotencyRecord
from promo.db import dialect
from promo.db.autocommit import Autocommit, InSession
from promo.db.results import rows_changed
from promo.errors import (
    PROBLEM_MEDIA_TYPE,
    BadRequest,
    Conflict,
    DomainError,
    FieldError,
    Invalid,
    render_domain_error,
)

MAX_KEY_LENGTH = 255
REPLAYED_HEADER = "Idempotent-Replayed"
# How long a request waits for a twin still running before it is told 409.
IN_FLIGHT_WAIT = "10s"
LOCK_NOT_AVAILABLE = "55P03"
# Refusals of the operation are its answer; input errors (400, 422) and 429 are not.
STORED_REFUSALS = frozenset({404, 409})

records = cast(Table, IdempotencyRecord.__table__)


class AnswerKey(msgspec.Struct, frozen=True):
    """Where one request's answer is stored, and what it must match."""

    scope: str
    key: str
    fingerprint: str


class Answer(msgspec.Struct, frozen=True):
    status_code: int
    body: bytes
    replayed: bool = False


def answer_key(
    header: str | None, operation: str, principal: Principal, payload: msgspec.Struct
) -> AnswerKey:
    """The key of a request: 400 when its header is missing, 422 when too long.
    The same request, however its JSON was spaced or ordered, hashes the same."""
    if header is None or not header.strip():
        raise BadRequest("idempotency_key_required", "This request needs an Idempotency-Key header")
    if len(header) > MAX_KEY_LENGTH:
        raise Invalid.field(
            "Idempotency-Key", f"at most {MAX_KEY_LENGTH} characters", "invalid_idempotency_key"
        )
    # An API key's answers, or a console account's (which has no key).
    caller = principal.key_id if principal.key_id is not None else f"user{principal.user_id}"
    scope = f"{operation}:{caller}"
    digest = hashlib.sha256(scope.encode() + b"\0" + msgspec.json.encode(payload)).hexdigest()
    return AnswerKey(scope=scope, key=header, fingerprint=digest)


def _store(insert: Any) -> Any:
    return (
        insert(records)
        .values(
            scope=bindparam("scope"),
            key=bindparam("key"),
            request_hash=bindparam("request_hash"),
            status_code=bindparam("status_code"),
            response_body=bindparam("response_body"),
            created_at=bindparam("now"),
            completed_at=bindparam("completed_at"),
        )
        .on_conflict_do_nothing(index_elements=["scope", "key"])
        .returning(records.c.id)
    )


# Built once, with bound parameters (see promo.checkout.offers).
STORE = dialect.prebuilt(_store)
FIND = select(records.c.request_hash, records.c.status_code, records.c.response_body).where(
    records.c.scope == bindparam("scope"), records.c.key == bindparam("key")
)
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


def _params(
    key: AnswerKey, now: datetime, status: int | None, body: bytes | None
) -> dict[str, Any]:
    return {
        "scope": key.scope,
        "key": key.key,
        "request_hash": key.fingerprint,
        "status_code": status,
        "response_body": body,
        "now": now,
        "completed_at": now if status is not None else None,
    }


async def replay(reads: Autocommit, key: AnswerKey) -> Answer:
    """The answer stored under ``key``; 422 when it answered another request."""
    row = await reads.first(FIND, {"scope": key.scope, "key": key.key})
    if row is None or row["status_code"] is None:
        # Purged between the conflict and this read: a retry will run afresh.
        raise Conflict(
            "request_in_progress",
            "A request with this Idempotency-Key is being processed; retry later",
        )
    if row["request_hash"] != key.fingerprint:
        raise Invalid(
            "idempotency_key_reused",
            "This Idempotency-Key was used with a different request",
            errors=[FieldError("Idempotency-Key", "already used for another request")],
        )
    return Answer(row["status_code"], bytes(row["response_body"] or b""), replayed=True)


async def store_or_replay(
    writes: Autocommit, key: AnswerKey, status: int, body: bytes, *, now: datetime
) -> Answer:
    """Store an answer given on its own (a refusal: nothing else was written),
    unless the key already has one: then that one, replayed."""
    stored = await writes.first(STORE[writes.dialect], _params(key, now, status, body))
    if stored is not None:
        return Answer(status, body)
    return await replay(writes, key)


async def run_once(
    session: AsyncSession,
    key: AnswerKey,
    *,
    now: datetime,
    work: Callable[[], Awaitable[tuple[int, msgspec.Struct]]],
) -> Answer:
    """Run ``work`` once under ``key`` inside the request's transaction.

    The key is taken first (waiting for a twin still running, at most
    ``IN_FLIGHT_WAIT``), the work runs in a savepoint, and its answer is
    stored beside it: a refusal rolls the work back to the savepoint and is
    stored alone. The caller commits (and must return the answer, not raise
    it, or the stored refusal would roll back too).
    """
    unit = InSession(session)
    postgres = dialect.is_postgres(session)
    if postgres:
        await session.execute(text(f"SET LOCAL lock_timeout = '{IN_FLIGHT_WAIT}'"))
    try:
        claimed = await unit.first(STORE[unit.dialect], _params(key, now, None, None))
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise Conflict(
                "request_in_progress",
                "A request with this Idempotency-Key is still being processed; retry later",
            ) from None
        raise
    if postgres:
        await session.execute(text("SET LOCAL lock_timeout = 0"))
    if claimed is None:
        return await replay(unit, key)
    try:
        async with session.begin_nested():
            status, result = await work()
        body = msgspec.json.encode(result)
    except DomainError as exc:
        status, body = render_domain_error(exc)
        if status not in STORED_REFUSALS:
            raise
    await unit.first(
        COMPLETE,
        {
            "record_id": claimed["id"],
            "status_code": status,
            "response_body": body,
            "completed_at": now,
        },
    )
    return Answer(status, body)


def respond(answer: Answer) -> Response[bytes]:
    """An answer as stored: problem+json for errors; marked when it is a replay."""
    media_type = PROBLEM_MEDIA_TYPE if answer.status_code >= 400 else "application/json"
    headers = {REPLAYED_HEADER: "true"} if answer.replayed else {}
    return Response(
        answer.body, status_code=answer.status_code, media_type=media_type, headers=headers
    )


async def purge(session: AsyncSession, *, older_than: datetime) -> int:
    """Drop answers older than the retention (24 h at least, per the contract)."""
    result = await session.execute(delete(records).where(records.c.created_at < older_than))
    return rows_changed(result)
