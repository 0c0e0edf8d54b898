"""Enqueueing, leasing and finishing jobs: the only statements on ``jobs``.

A job is enqueued in the transaction of the change that calls for it (a code
batch and the job that generates it commit together, or neither does). A
worker *leases* a due job: one statement marks it running under the worker's
name until ``lease_until`` (on PostgreSQL ``FOR UPDATE SKIP LOCKED``, so
workers on several hosts never wait for each other nor take the same job;
SQLite serialises writers). The worker renews the lease while it works; a
worker that dies (SIGKILL, a lost host) stops renewing, and once the lease
has run out the job is due again and another worker takes it, with one more
attempt counted. Handlers are therefore written to resume: what they
committed stays done, and running them again finishes the rest.

Every write after the lease is fenced by the lease: a worker that lost its
lease (it stalled past ``lease_until`` and another took over) can no longer
finish, fail or renew the job.

Times are the workers' clocks (promo.clock); leases last tens of seconds, so
hosts whose clocks agree to within a second or two (NTP) are enough.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

import msgspec
from sqlalchemy import Table, and_, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from promo.db import dialect
from promo.db.results import rows_changed
from promo.jobs.models import Job

jobs = cast(Table, Job.__table__)
UNFINISHED = "status IN ('queued', 'running')"

DEFAULT_MAX_ATTEMPTS = 10
# Retries wait 10 s, 20 s, 40 s, ... at most an hour.
BACKOFF_FIRST_SECONDS = 10
BACKOFF_MAX_SECONDS = 3600
MAX_ERROR_LENGTH = 2000


class Leased(msgspec.Struct, frozen=True):
    """A job as a worker holds it."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    owner: str


def backoff(attempt: int) -> timedelta:
    """How long a job waits after its ``attempt``-th failure."""
    seconds = BACKOFF_FIRST_SECONDS * 2 ** max(attempt - 1, 0)
    return timedelta(seconds=min(seconds, BACKOFF_MAX_SECONDS))


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    now: datetime,
    run_at: datetime | None = None,
    unique_key: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> int | None:
    """Queue a job in the caller's transaction; its id, or None when a job with
    ``unique_key`` is already queued or running."""
    statement = (
        dialect.insert(session, jobs)
        .values(
            kind=kind,
            payload=payload or {},
            unique_key=unique_key,
            status="queued",
            run_at=run_at or now,
            attempts=0,
            max_attempts=max_attempts,
            created_at=now,
            updated_at=now,
        )
        .returning(jobs.c.id)
    )
    if unique_key is not None:
        # The partial index's predicate as written (PostgreSQL matches it only
        # against literals, never against bound parameters).
        statement = statement.on_conflict_do_nothing(
            index_elements=["unique_key"], index_where=text(UNFINISHED)
        )
    return cast(int | None, await session.scalar(statement))


async def enqueue_many(
    session: AsyncSession,
    kind: str,
    payloads: Sequence[dict[str, Any]],
    *,
    now: datetime,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> None:
    """Queue one job of ``kind`` per payload in the caller's transaction (one
    statement; no unique keys)."""
    if not payloads:
        return
    row = {
        "kind": kind,
        "unique_key": None,
        "status": "queued",
        "run_at": now,
        "attempts": 0,
        "max_attempts": max_attempts,
        "created_at": now,
        "updated_at": now,
    }
    await session.execute(jobs.insert(), [{**row, "payload": p} for p in payloads])


def _due(now: datetime, kinds: Sequence[str] | None) -> Any:
    due = or_(
        and_(jobs.c.status == "queued", jobs.c.run_at <= now),
        and_(jobs.c.status == "running", jobs.c.lease_until < now),
    )
    return due if kinds is None else and_(due, jobs.c.kind.in_(list(kinds)))


async def lease(
    session: AsyncSession,
    owner: str,
    *,
    now: datetime,
    lease_for: timedelta,
    kinds: Sequence[str] | None = None,
    job_id: int | None = None,
) -> Leased | None:
    """Take the next due job for ``owner`` (commit to hold it), or None;
    ``job_id``: that job only (a command runs the job it just queued)."""
    due = _due(now, kinds) if job_id is None else and_(_due(now, kinds), jobs.c.id == job_id)
    pick = select(jobs.c.id).where(due).order_by(jobs.c.run_at, jobs.c.id).limit(1)
    if dialect.is_postgres(session):
        pick = pick.with_for_update(skip_locked=True)
    row = (
        await session.execute(
            update(jobs)
            .where(jobs.c.id == pick.scalar_subquery())
            .values(
                status="running",
                lease_owner=owner,
                lease_until=now + lease_for,
                attempts=jobs.c.attempts + 1,
                updated_at=now,
            )
            .returning(jobs.c.id, jobs.c.kind, jobs.c.payload, jobs.c.attempts, jobs.c.max_attempts)
        )
    ).first()
    if row is None:
        return None
    return Leased(
        id=row.id,
        kind=row.kind,
        payload=dict(row.payload or {}),
        attempt=row.attempts,
        max_attempts=row.max_attempts,
        owner=owner,
    )


def _held(job: Leased) -> Any:
    return and_(jobs.c.id == job.id, jobs.c.status == "running", jobs.c.lease_owner == job.owner)


async def _fenced(session: AsyncSession, job: Leased, values: dict[str, Any]) -> bool:
    result = await session.execute(update(jobs).where(_held(job)).values(**values))
    return rows_changed(result) > 0


async def renew(session: AsyncSession, job: Leased, *, now: datetime, lease_for: timedelta) -> bool:
    """Extend the lease; False when it was lost (the job is another worker's now)."""
    return await _fenced(session, job, {"lease_until": now + lease_for, "updated_at": now})


async def finish(session: AsyncSession, job: Leased, *, now: datetime) -> bool:
    """Mark the job done (in the transaction of its last effect, when it has one)."""
    return await _fenced(
        session,
        job,
        {
            "status": "done",
            "lease_owner": None,
            "lease_until": None,
            "last_error": None,
            "updated_at": now,
            "finished_at": now,
        },
    )


async def reschedule(
    session: AsyncSession,
    job: Leased,
    *,
    now: datetime,
    run_at: datetime,
    payload: dict[str, Any] | None = None,
) -> bool:
    """Queue the job again for ``run_at`` (a job that comes back by itself: a
    webhook delivery's next attempt, a scan that recurs), in the transaction of
    what this run did; its attempts start afresh (they count the runs that
    failed, not the runs that went as planned). False when the lease was lost."""
    values: dict[str, Any] = {
        "status": "queued",
        "lease_owner": None,
        "lease_until": None,
        "attempts": 0,
        "last_error": None,
        "run_at": run_at,
        "updated_at": now,
    }
    if payload is not None:
        values["payload"] = payload
    return await _fenced(session, job, values)


async def fail(session: AsyncSession, job: Leased, error: str, *, now: datetime) -> str | None:
    """Record a failed attempt: queued again after its backoff, or failed for good
    after ``max_attempts``. The status it took, or None when the lease was lost."""
    final = job.attempt >= job.max_attempts
    status = "failed" if final else "queued"
    values: dict[str, Any] = {
        "status": status,
        "lease_owner": None,
        "lease_until": None,
        "last_error": error[:MAX_ERROR_LENGTH],
        "updated_at": now,
        "run_at": now + backoff(job.attempt),
    }
    if final:
        values["finished_at"] = now
    return status if await _fenced(session, job, values) else None


async def release(session: AsyncSession, job: Leased, *, now: datetime) -> bool:
    """Give the job back untouched (a worker shutting down): due again at once,
    and this attempt not counted."""
    return await _fenced(
        session,
        job,
        {
            "status": "queued",
            "lease_owner": None,
            "lease_until": None,
            "attempts": jobs.c.attempts - 1,
            "run_at": now,
            "updated_at": now,
        },
    )


async def retry(session: AsyncSession, job_id: int, *, now: datetime) -> bool:
    """Queue a failed job again with a fresh set of attempts (an operator's call)."""
    result = await session.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.status == "failed")
        .values(status="queued", attempts=0, run_at=now, finished_at=None, updated_at=now)
    )
    return rows_changed(result) > 0
