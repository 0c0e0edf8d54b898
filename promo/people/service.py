"""Console accounts: invitations, passwords, sign-in and sessions.

Tokens (sessions, invitation and reset links) are 256-bit random strings
handed to the person once; only their SHA-256 is stored, as for API keys
(``promo.auth.keys``): a random token needs no stretching and is found with
one indexed lookup. Passwords are argon2id (``promo.people.passwords``).

Ending sessions is a delete: sign-out deletes one, deactivating an account
or setting a new password deletes all of the account's, so the next request
of any of them, on any host, finds none.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from datetime import datetime, timedelta

import msgspec
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from promo.auth.keys import hash_key
from promo.auth.roles import Principal, Role
from promo.auth.service import require_active_affiliate
from promo.db.results import rows_changed
from promo.errors import Conflict, Invalid, NotFound
from promo.people import passwords
from promo.people.models import AccountLink, ConsoleSession, ConsoleUser

CONSOLE_ROLES = (Role.ADMIN, Role.MARKETER, Role.ACCOUNTANT, Role.AFFILIATE)
INVITATION_DAYS = 7
RESET_HOURS = 1
LOCALES = ("en", "fr")


class SessionTimes(msgspec.Struct, frozen=True):
    """How long a session lives: idle, and at most from sign-in."""

    idle: timedelta = timedelta(hours=8)
    absolute: timedelta = timedelta(days=7)


class Viewer(msgspec.Struct, frozen=True):
    """The person behind a console request."""

    user_id: int
    email: str
    role: Role
    affiliate_id: int | None
    locale: str | None
    session_id: int

    @property
    def principal(self) -> Principal:
        """What the services see: the same role checks and affiliate scoping as
        an API key of that role, with the account as the actor of the audit."""
        return Principal(
            key_id=None, role=self.role, affiliate_id=self.affiliate_id, user_id=self.user_id
        )


def principal_of(user: ConsoleUser) -> Principal:
    """The account as the services' caller (for a request made before it has a session)."""
    return Principal(
        key_id=None, role=Role(user.role), affiliate_id=user.affiliate_id, user_id=user.id
    )


def sign_in_name(email: str, *, field: str = "email") -> str:
    """The account's e-mail as stored and compared: validated, lower-cased."""
    try:
        checked = validate_email(email.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise Invalid.field(field, str(exc), "invalid_email") from None
    return checked.normalized.lower()


def new_token() -> str:
    return secrets.token_urlsafe(32)


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    role: Role,
    affiliate_id: int | None,
    now: datetime,
    password: str | None = None,
) -> ConsoleUser:
    if role not in CONSOLE_ROLES:
        allowed = ", ".join(r.value for r in CONSOLE_ROLES)
        raise Invalid.field("role", f"must be one of {allowed}", "invalid_role")
    if (role == Role.AFFILIATE) != (affiliate_id is not None):
        raise Invalid.field(
            "affiliate_id",
            "is required for the affiliate role and only for it",
            "affiliate_required",
        )
    if affiliate_id is not None:
        await require_active_affiliate(session, affiliate_id)
    user = ConsoleUser(
        email=sign_in_name(email),
        role=role,
        affiliate_id=affiliate_id,
        password_hash=await passwords.hashed(password) if password is not None else None,
        active=True,
        locale=None,
        created_at=now,
        updated_at=now,
    )
    try:
        # Added inside the savepoint: begin_nested() flushes what is pending
        # first, so a duplicate added before it would fail the outer transaction.
        async with session.begin_nested():
            session.add(user)
            await session.flush()
    except IntegrityError:
        raise Conflict(
            "account_exists", f"A console account for {user.email} already exists"
        ) from None
    return user


async def user_by_email(session: AsyncSession, email: str) -> ConsoleUser:
    user = await session.scalar(select(ConsoleUser).where(ConsoleUser.email == sign_in_name(email)))
    if user is None:
        raise NotFound("account_not_found", "No console account has that e-mail")
    return user


async def get_user(session: AsyncSession, user_id: int) -> ConsoleUser:
    user = await session.get(ConsoleUser, user_id)
    if user is None:
        raise NotFound("account_not_found", "No such console account")
    return user


async def list_users(session: AsyncSession) -> list[ConsoleUser]:
    return list(await session.scalars(select(ConsoleUser).order_by(ConsoleUser.email)))


async def emails_of(session: AsyncSession, user_ids: Collection[int]) -> dict[int, str]:
    """The e-mail of each of these accounts (those that exist)."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(ConsoleUser.id, ConsoleUser.email).where(ConsoleUser.id.in_(set(user_ids)))
    )
    return {row.id: row.email for row in rows}


async def issue_link(
    session: AsyncSession, user: ConsoleUser, purpose: str, *, now: datetime
) -> str:
    """A one-time link token for ``user``: an invitation or a password reset.
    Links issued before for the same purpose stop working."""
    await session.execute(
        update(AccountLink)
        .where(
            AccountLink.user_id == user.id,
            AccountLink.purpose == purpose,
            AccountLink.used_at.is_(None),
        )
        .values(used_at=now)
    )
    lifetime = (
        timedelta(days=INVITATION_DAYS) if purpose == "invite" else timedelta(hours=RESET_HOURS)
    )
    token = new_token()
    session.add(
        AccountLink(
            token_hash=hash_key(token),
            user_id=user.id,
            purpose=purpose,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    await session.flush()
    return token


async def open_link(
    session: AsyncSession, token: str, *, now: datetime
) -> tuple[AccountLink, ConsoleUser]:
    """The link and its account, if the link is unused, unexpired and its account active."""
    found = (
        await session.execute(
            select(AccountLink, ConsoleUser)
            .join(ConsoleUser, ConsoleUser.id == AccountLink.user_id)
            .where(AccountLink.token_hash == hash_key(token))
        )
    ).first()
    if found is None:
        raise NotFound("link_invalid", "This link is not valid")
    link, user = found
    if link.used_at is not None or link.expires_at <= now or not user.active:
        raise NotFound("link_invalid", "This link has expired or was already used")
    return link, user


async def use_link(
    session: AsyncSession, token: str, password: str, *, now: datetime
) -> ConsoleUser:
    """Set the account's password from an invitation or reset link, once.

    The link is marked used by a conditional UPDATE, so two submissions of
    the same link racing each other set one password, not two."""
    link, user = await open_link(session, token, now=now)
    passwords.check_new(password)
    taken = await session.execute(
        update(AccountLink)
        .where(AccountLink.id == link.id, AccountLink.used_at.is_(None))
        .values(used_at=now)
    )
    if rows_changed(taken) != 1:
        raise NotFound("link_invalid", "This link has expired or was already used")
    await set_password(session, user, password, now=now)
    return user


async def set_password(
    session: AsyncSession, user: ConsoleUser, password: str, *, now: datetime
) -> None:
    """A new password ends every session of the account."""
    user.password_hash = await passwords.hashed(password)
    user.updated_at = now
    await end_sessions(session, user.id)


async def set_active(
    session: AsyncSession, user: ConsoleUser, active: bool, *, now: datetime
) -> None:
    """Deactivating ends every session of the account at once."""
    user.active = active
    user.updated_at = now
    if not active:
        await end_sessions(session, user.id)


async def set_locale(
    session: AsyncSession, user_id: int, locale: str | None, *, now: datetime
) -> None:
    if locale is not None and locale not in LOCALES:
        raise Invalid.field("locale", f"must be one of {', '.join(LOCALES)}", "invalid_locale")
    await session.execute(
        update(ConsoleUser).where(ConsoleUser.id == user_id).values(locale=locale, updated_at=now)
    )


async def check_password(session: AsyncSession, email: str, password: str) -> ConsoleUser | None:
    """The active account with this e-mail and password, else None (the same
    work is done whether the account exists or not)."""
    try:
        name = sign_in_name(email)
    except Invalid:
        await passwords.verified(None, password)
        return None
    user = await session.scalar(select(ConsoleUser).where(ConsoleUser.email == name))
    if not await passwords.verified(user.password_hash if user else None, password) or user is None:
        return None
    if not user.active:
        return None
    if passwords.needs_rehash(user.password_hash or ""):
        user.password_hash = await passwords.hashed(password)
    return user


async def open_session(
    session: AsyncSession,
    user: ConsoleUser,
    *,
    now: datetime,
    times: SessionTimes,
    address: str | None,
) -> str:
    token = new_token()
    session.add(
        ConsoleSession(
            token_hash=hash_key(token),
            user_id=user.id,
            created_at=now,
            expires_at=min(now + times.idle, now + times.absolute),
            ends_at=now + times.absolute,
            address=address[:64] if address else None,
        )
    )
    # Expired sessions of this account go now: the table holds live ones only.
    await session.execute(
        delete(ConsoleSession).where(
            ConsoleSession.user_id == user.id, ConsoleSession.expires_at <= now
        )
    )
    await session.flush()
    return token


async def viewer_of(
    session: AsyncSession, token: str, *, now: datetime, times: SessionTimes
) -> Viewer | None:
    """The person whose live session ``token`` is, pushing its idle expiry on."""
    found = (
        await session.execute(
            select(ConsoleSession, ConsoleUser)
            .join(ConsoleUser, ConsoleUser.id == ConsoleSession.user_id)
            .where(ConsoleSession.token_hash == hash_key(token))
        )
    ).first()
    if found is None:
        return None
    live, user = found
    if live.expires_at <= now or not user.active:
        return None
    # Written at most once a minute per session, not on every page.
    pushed = min(now + times.idle, live.ends_at)
    if pushed - live.expires_at > timedelta(minutes=1):
        live.expires_at = pushed
    return Viewer(
        user_id=user.id,
        email=user.email,
        role=Role(user.role),
        affiliate_id=user.affiliate_id,
        locale=user.locale,
        session_id=live.id,
    )


async def close_session(session: AsyncSession, token: str) -> None:
    await session.execute(
        delete(ConsoleSession).where(ConsoleSession.token_hash == hash_key(token))
    )


async def end_sessions(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user_id))
