"""What `promo users` and the console's account pages both do to an account:
invite it, send it a link, deactivate or reactivate it, each with its audit line.

Links are built here from ``Settings.base_url`` (``PROMO_PUBLIC_URL``), so the
CLI prints and the console shows the same URL; the token in it is handed out
once (only its hash is stored) and is never written to the audit log.
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from promo import audit
from promo.auth.roles import Principal, Role
from promo.errors import Conflict
from promo.ids import Kind, encode
from promo.people import service
from promo.people.models import ConsoleUser

INVITE_PATH = "/console/invitations/"
RESET_PATH = "/console/password-reset/"
PATHS = {"invite": INVITE_PATH, "reset": RESET_PATH}


class Link(msgspec.Struct, frozen=True):
    """A one-time link issued to ``user``: ``purpose`` "invite" or "reset"."""

    user: ConsoleUser
    purpose: str
    url: str


def link_url(base_url: str, purpose: str, token: str) -> str:
    return f"{base_url}{PATHS[purpose]}{token}"


def target_of(user: ConsoleUser) -> str:
    """The account as audit entries name it (``usr_...``)."""
    return encode(Kind.CONSOLE_USER, user.id)


async def invite(
    session: AsyncSession,
    *,
    email: str,
    role: Role,
    affiliate_id: int | None,
    who: Principal | audit.Cli,
    now: datetime,
    base_url: str,
) -> Link:
    """Create an account without a password and issue its invitation link (7 days)."""
    user = await service.create_user(
        session, email=email, role=role, affiliate_id=affiliate_id, now=now
    )
    token = await service.issue_link(session, user, "invite", now=now)
    details = {
        "email": user.email,
        "role": role.value,
        "affiliate_id": encode(Kind.AFFILIATE, affiliate_id) if affiliate_id else None,
    }
    await audit.record(session, who, "user.invite", target_of(user), now=now, details=details)
    return Link(user, "invite", link_url(base_url, "invite", token))


async def send_link(
    session: AsyncSession,
    user: ConsoleUser,
    *,
    who: Principal | audit.Cli,
    now: datetime,
    base_url: str,
) -> Link:
    """A password reset link (1 hour), or a new invitation (7 days) for an account
    that never set a password; earlier links of that kind stop working."""
    if not user.active:
        # Its link would open nothing (promo.people.service.open_link).
        raise Conflict("account_inactive", f"{user.email} is deactivated: reactivate it first")
    purpose = "invite" if user.password_hash is None else "reset"
    token = await service.issue_link(session, user, purpose, now=now)
    await audit.record(session, who, f"user.{purpose}", target_of(user), now=now)
    return Link(user, purpose, link_url(base_url, purpose, token))


async def set_active(
    session: AsyncSession,
    user: ConsoleUser,
    active: bool,
    *,
    who: Principal | audit.Cli,
    now: datetime,
) -> None:
    """Deactivate (its sessions end at once) or reactivate an account. A person
    cannot deactivate the account they are signed in with: nobody would be
    left to undo it from that seat."""
    if not active and isinstance(who, Principal) and who.user_id == user.id:
        raise Conflict("own_account", "You cannot deactivate your own account")
    await service.set_active(session, user, active, now=now)
    action = "user.reactivate" if active else "user.deactivate"
    await audit.record(session, who, action, target_of(user), now=now)
