"""/v1/jobs (admin): background work, its state and its errors; retrying one that failed."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.params import FromPath, QueryParameter
from sqlalchemy import select

from promo import audit
from promo.auth.guards import allow
from promo.deps import Caller, ClockDep, DbSession, PageCursor, PageLimit
from promo.errors import Conflict, NotFound
from promo.ids import Kind, encode, require
from promo.jobs import queue
from promo.jobs.models import Job
from promo.jobs.schemas import JobPage, JobRead, JobStatus
from promo.schemas import DEFAULT_LIMIT, decode_cursor, next_cursor


def job_read(job: Job) -> JobRead:
    return JobRead(
        id=encode(Kind.JOB, job.id),
        kind=job.kind,
        payload=job.payload or {},
        status=job.status,  # type: ignore[arg-type]
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        run_at=job.run_at,
        lease_owner=job.lease_owner,
        lease_until=job.lease_until,
        last_error=job.last_error,
        created_at=job.created_at,
        updated_at=job.updated_at,
        finished_at=job.finished_at,
    )


class JobController(Controller):
    path = "/v1/jobs"
    tags = ["operations"]
    guards = [allow()]

    @get("/")
    async def list_jobs(
        self,
        session: DbSession,
        status: Annotated[JobStatus | None, QueryParameter()] = None,
        kind: Annotated[str | None, QueryParameter(max_length=64)] = None,
        cursor: PageCursor = None,
        limit: PageLimit = DEFAULT_LIMIT,
    ) -> JobPage:
        """Jobs in creation order, of one status or kind: ``?status=failed`` is what
        stopped retrying and needs a look."""
        query = select(Job).order_by(Job.id).limit(limit)
        if status is not None:
            query = query.where(Job.status == status)
        if kind is not None:
            query = query.where(Job.kind == kind)
        after = decode_cursor(cursor)
        if after is not None:
            query = query.where(Job.id > after)
        rows = list(await session.scalars(query))
        return JobPage(
            items=[job_read(job) for job in rows],
            next_cursor=next_cursor([job.id for job in rows], limit),
        )

    @get("/{job_id:str}")
    async def get_job(self, job_id: FromPath[str], session: DbSession) -> JobRead:
        job = await session.get(Job, require(Kind.JOB, job_id))
        if job is None:
            raise NotFound("job_not_found", "No such job")
        return job_read(job)

    @post("/{job_id:str}/retry", status_code=200)
    async def retry_job(
        self, job_id: FromPath[str], session: DbSession, clock: ClockDep, principal: Caller
    ) -> JobRead:
        """Queue a failed job again, with a fresh set of attempts."""
        job = await session.get(Job, require(Kind.JOB, job_id))
        if job is None:
            raise NotFound("job_not_found", "No such job")
        if not await queue.retry(session, job.id, now=clock()):
            raise Conflict(
                "job_not_failed", f"Only a failed job can be retried; this one is {job.status}"
            )
        await audit.record(session, principal, "job.retry", encode(Kind.JOB, job.id), now=clock())
        await session.refresh(job)
        return job_read(job)
