"""Which failures mean "the database is away" (503, Retry-After): by type and
SQLSTATE, for the errors asyncpg, SQLAlchemy and the OS really raise."""

from __future__ import annotations

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from promo.errors import DatabaseUnavailable, is_database_unavailable

AWAY = [
    ConnectionRefusedError(111, "Connection refused"),
    TimeoutError(),
    OSError(113, "No route to host"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
    asyncpg.exceptions.ConnectionFailureError("x"),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.AdminShutdownError("terminating connection"),
    asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients"),
    PoolTimeout("QueuePool limit reached"),
    DBAPIError("SELECT 1", None, Exception("gone"), connection_invalidated=True),
    DBAPIError("SELECT 1", None, ConnectionResetError()),
    DatabaseUnavailable("the connection was lost"),
]
NOT_AWAY = [
    ValueError("x"),
    asyncpg.exceptions.UniqueViolationError("duplicate key"),
    asyncpg.exceptions.SerializationError("could not serialize"),
    asyncpg.exceptions.InterfaceError("another operation is in progress"),
    IntegrityError("INSERT", None, asyncpg.exceptions.UniqueViolationError("duplicate")),
    DBAPIError("SELECT 1", None, Exception("syntax error")),
]


@pytest.mark.parametrize("exc", AWAY, ids=lambda e: type(e).__name__)
def test_a_database_that_is_away_is_recognised(exc: BaseException) -> None:
    assert is_database_unavailable(exc)


@pytest.mark.parametrize("exc", NOT_AWAY, ids=lambda e: type(e).__name__)
def test_other_failures_are_not_the_database_being_away(exc: BaseException) -> None:
    assert not is_database_unavailable(exc)


class Wrapped(Exception):
    """What SQLAlchemy's asyncpg adapter raises: the SQLSTATE as an attribute."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__("message text is never read")
        self.sqlstate = sqlstate


@given(st.from_regex(r"\A[0-9A-Z]{5}\Z"))
def test_sqlstate_decides_through_sqlalchemy(sqlstate: str) -> None:
    expected = sqlstate.startswith("08") or sqlstate in {"57P01", "57P02", "57P03", "53300"}
    wrapped = DBAPIError("SELECT 1", None, Wrapped(sqlstate))
    assert is_database_unavailable(wrapped) is expected
    assert is_database_unavailable(Wrapped(sqlstate)) is expected
