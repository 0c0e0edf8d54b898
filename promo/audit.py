"""The audit log: who did what to campaigns, codes, keys and payouts.

"Who" is an API key (``actor`` "api", with the key's id and role), a person
signed in to the console (``actor`` "console", with the account's id and
role) or the command line (``actor`` "cli:<OS user>", no key, role "admin": the CLI acts
with the database's full rights, so an operator's `promo keys create` or
`promo codes generate` is as visible as a request). Entries are written in
the same transaction as the change they describe, so a change that rolls
back leaves no audit line and a committed one always has one. Readable by
admin at GET /v1/audit.
"""

from __future__ import annotations

import getpass
import os
from datetime import datetime
from typing import Any, cast

import msgspec
from sqlalchemy import JSON, ForeignKey, Row, String, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from promo.auth.roles import Principal, Role
from promo.db.metadata import Base, BigId, UtcDateTime


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    key_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("api_keys.id"))
    user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("console_users.id"))
    role: Mapped[str] = mapped_column(String(16))
    # "api" (a request made with key_id), "console" (by user_id) or "cli:<OS user>".
    actor: Mapped[str] = mapped_column(String(128), server_default="api")
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


audit_log = cast(Table, AuditEntry.__table__)

API_ACTOR = "api"
CONSOLE_ACTOR = "console"
CLI_ACTOR = "cli"
# What the ``actor`` filter takes: "cli" is every "cli:<OS user>".
ACTORS = (API_ACTOR, CONSOLE_ACTOR, CLI_ACTOR)


class Cli(msgspec.Struct, frozen=True):
    """The command line, run by ``os_user``."""

    os_user: str


def cli_actor() -> Cli:
    """The CLI as run by this process's OS user (its uid when it has no name)."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no passwd entry and no LOGNAME/USER (containers)
        user = f"uid {os.getuid()}"
    return Cli(user[:100])


async def record(
    session: AsyncSession,
    who: Principal | Cli,
    action: str,
    target: str | None,
    *,
    now: datetime,
    details: msgspec.Struct | dict[str, Any] | None = None,
) -> None:
    """Append one line; ``details`` is what was asked (never secrets)."""
    user_id = None
    if isinstance(who, Cli):
        key_id, role, actor = None, Role.ADMIN.value, f"cli:{who.os_user}"
    elif who.user_id is not None:
        key_id, user_id, role, actor = None, who.user_id, who.role.value, CONSOLE_ACTOR
    else:
        key_id, role, actor = who.key_id, who.role.value, API_ACTOR
    await session.execute(
        insert(audit_log).values(
            at=now,
            key_id=key_id,
            user_id=user_id,
            role=role,
            actor=actor,
            action=action,
            target=target,
            details=msgspec.to_builtins(details) if details is not None else {},
        )
    )


class Filters(msgspec.Struct, frozen=True):
    """Which entries to read; each given field narrows the list (all must hold)."""

    action: str | None = None
    actor: str | None = None
    role: str | None = None
    target: str | None = None
    key_id: int | None = None
    user_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None


async def entries(
    session: AsyncSession,
    filters: Filters,
    *,
    after_id: int | None,
    limit: int,
    newest_first: bool = False,
) -> list[Row[Any]]:
    """A page of entries in id order (or newest first), after ``after_id`` in that order."""
    column = audit_log.c
    query = select(audit_log).limit(limit)
    query = query.order_by(column.id.desc() if newest_first else column.id)
    if after_id is not None:
        query = query.where(column.id < after_id if newest_first else column.id > after_id)
    if filters.actor == CLI_ACTOR:
        query = query.where(column.actor.startswith("cli:", autoescape=True))
    elif filters.actor is not None:
        query = query.where(column.actor == filters.actor)
    for name in ("action", "role", "target", "key_id", "user_id"):
        value = getattr(filters, name)
        if value is not None:
            query = query.where(column[name] == value)
    if filters.start is not None:
        query = query.where(column.at >= filters.start)
    if filters.end is not None:
        query = query.where(column.at < filters.end)
    return list((await session.execute(query)).all())
