"""Console accounts (promo.people) on committed databases: one-time links,
passwords, sessions that end everywhere at once, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from promo.auth.roles import Role
from promo.clock import utc_now
from promo.db.engine import create_engine, create_sessionmaker
from promo.errors import Conflict, Invalid, NotFound
from promo.people import service
from promo.people.models import ConsoleSession, ConsoleUser
from promo.settings import Settings
from tests.support.databases import committed_database

TIMES = service.SessionTimes()
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def committed(request: pytest.FixtureRequest, sqlite_dir: Path) -> Iterator[Settings]:
    with committed_database(request, sqlite_dir, "promo_people") as settings:
        yield settings


@pytest.fixture
async def sessions(committed: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine: AsyncEngine = create_engine(committed)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def invited(
    sessions: async_sessionmaker[AsyncSession], email: str, role: Role = Role.MARKETER
) -> tuple[int, str]:
    async with sessions() as session, session.begin():
        user = await service.create_user(
            session, email=email, role=role, affiliate_id=None, now=utc_now()
        )
        return user.id, await service.issue_link(session, user, "invite", now=utc_now())


async def test_an_invitation_sets_a_password_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    _, token = await invited(sessions, "Mia@Example.com")
    async with sessions() as session, session.begin():
        assert await service.check_password(session, "mia@example.com", PASSWORD) is None
        await service.use_link(session, token, PASSWORD, now=utc_now())
    async with sessions() as session, session.begin():
        user = await service.check_password(session, " MIA@example.com", PASSWORD)
        assert user is not None
        assert user.email == "mia@example.com"
        assert await service.check_password(session, "mia@example.com", PASSWORD + "!") is None
        with pytest.raises(NotFound):
            await service.use_link(session, token, "another long password", now=utc_now())


async def test_an_expired_invitation_is_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    _, token = await invited(sessions, "late@example.com")
    later = utc_now() + timedelta(days=service.INVITATION_DAYS, seconds=1)
    async with sessions() as session, session.begin():
        with pytest.raises(NotFound):
            await service.use_link(session, token, PASSWORD, now=later)


async def test_a_new_link_retires_the_earlier_one(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    user_id, first = await invited(sessions, "twice@example.com")
    async with sessions() as session, session.begin():
        user = await service.get_user(session, user_id)
        second = await service.issue_link(session, user, "invite", now=utc_now())
    async with sessions() as session, session.begin():
        with pytest.raises(NotFound):
            await service.open_link(session, first, now=utc_now())
        await service.use_link(session, second, PASSWORD, now=utc_now())


async def test_a_short_password_names_the_field(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    _, token = await invited(sessions, "short@example.com")
    async with sessions() as session, session.begin():
        with pytest.raises(Invalid) as refused:
            await service.use_link(session, token, "short", now=utc_now())
    assert refused.value.errors[0].field == "password"


async def test_one_account_per_email(sessions: async_sessionmaker[AsyncSession]) -> None:
    await invited(sessions, "once@example.com")
    with pytest.raises(Conflict):
        await invited(sessions, "ONCE@example.com")


async def test_the_affiliate_role_needs_its_affiliate(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        with pytest.raises(Invalid) as refused:
            await service.create_user(
                session,
                email="a@example.com",
                role=Role.AFFILIATE,
                affiliate_id=None,
                now=utc_now(),
            )
    assert refused.value.errors[0].field == "affiliate_id"


async def signed_in(sessions: async_sessionmaker[AsyncSession], email: str) -> tuple[int, str]:
    user_id, token = await invited(sessions, email)
    async with sessions() as session, session.begin():
        user = await service.use_link(session, token, PASSWORD, now=utc_now())
        cookie = await service.open_session(
            session, user, now=utc_now(), times=TIMES, address="192.0.2.7"
        )
    return user_id, cookie


async def viewer(sessions: async_sessionmaker[AsyncSession], cookie: str) -> service.Viewer | None:
    async with sessions() as session, session.begin():
        return await service.viewer_of(session, cookie, now=utc_now(), times=TIMES)


async def test_a_session_names_its_person_until_sign_out(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    user_id, cookie = await signed_in(sessions, "out@example.com")
    seen = await viewer(sessions, cookie)
    assert seen is not None
    assert (seen.user_id, seen.role, seen.principal.user_id) == (user_id, Role.MARKETER, user_id)
    async with sessions() as session, session.begin():
        await service.close_session(session, cookie)
    assert await viewer(sessions, cookie) is None


async def test_deactivation_and_a_new_password_end_every_session(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    user_id, first = await signed_in(sessions, "ends@example.com")
    async with sessions() as session, session.begin():
        user = await session.get_one(ConsoleUser, user_id)
        second = await service.open_session(session, user, now=utc_now(), times=TIMES, address=None)
        await service.set_password(session, user, "a brand new password", now=utc_now())
    assert await viewer(sessions, first) is None
    assert await viewer(sessions, second) is None

    async with sessions() as session, session.begin():
        user = await session.get_one(ConsoleUser, user_id)
        third = await service.open_session(session, user, now=utc_now(), times=TIMES, address=None)
        await service.set_active(session, user, False, now=utc_now())
    assert await viewer(sessions, third) is None
    async with sessions() as session, session.begin():
        assert (
            await service.check_password(session, "ends@example.com", "a brand new password")
            is None
        )
        left = await session.scalar(
            select(func.count())
            .select_from(ConsoleSession)
            .where(ConsoleSession.user_id == user_id)
        )
    assert left == 0


async def test_an_idle_session_expires(sessions: async_sessionmaker[AsyncSession]) -> None:
    _, cookie = await signed_in(sessions, "idle@example.com")
    async with sessions() as session, session.begin():
        later = utc_now() + TIMES.idle + timedelta(seconds=1)
        assert await service.viewer_of(session, cookie, now=later, times=TIMES) is None


@pytest.fixture(scope="module", params=["postgresql"])
def committed_pg(request: pytest.FixtureRequest, sqlite_dir: Path) -> Iterator[Settings]:
    """PostgreSQL only: concurrent writers on SQLite queue on its one lock."""
    with committed_database(request, sqlite_dir, "promo_people_race") as settings:
        yield settings


async def test_one_invitation_used_six_times_at_once_sets_one_password(
    committed_pg: Settings,
) -> None:
    engine = create_engine(committed_pg)
    try:
        await race_one_invitation(create_sessionmaker(engine))
    finally:
        await engine.dispose()


async def race_one_invitation(sessions: async_sessionmaker[AsyncSession]) -> None:
    _, token = await invited(sessions, "race@example.com")

    async def use(password: str) -> bool:
        try:
            async with sessions() as session, session.begin():
                await service.use_link(session, token, password, now=utc_now())
        except NotFound:
            return False
        return True

    outcomes = await asyncio.gather(*(use(f"racing password number {n}") for n in range(6)))
    assert outcomes.count(True) == 1
    winner = outcomes.index(True)
    async with sessions() as session, session.begin():
        assert await service.check_password(
            session, "race@example.com", f"racing password number {winner}"
        )
