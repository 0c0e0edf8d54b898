"""HTTP shapes of jobs, as operators see them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from promo.schemas import Schema

JobStatus = Literal["queued", "running", "done", "failed"]


class JobRead(Schema):
    id: str
    kind: str
    payload: dict[str, Any]
    status: JobStatus
    attempts: int
    max_attempts: int
    run_at: datetime
    # The worker holding it and until when (running jobs).
    lease_owner: str | None
    lease_until: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class JobPage(Schema):
    items: list[JobRead]
    next_cursor: str | None
