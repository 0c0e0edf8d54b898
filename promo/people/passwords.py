"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106's second
recommended profile) and the one rule a new password must meet.

A hash or a check costs a few hundred milliseconds of CPU by design, so the
async functions run it in a worker thread (argon2-cffi releases the GIL):
a sign-in never stalls the other requests of its worker's event loop.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from promo.errors import Invalid

MIN_LENGTH = 12
MAX_LENGTH = 200  # argon2 takes any length; this bounds the work per attempt

_hasher = PasswordHasher()
# Verified when the account does not exist, so that an unknown e-mail costs
# as long as a wrong password and timing does not tell which accounts exist.
_DUMMY = _hasher.hash("promo: no such account")


def check_new(password: str, *, field: str = "password") -> None:
    if len(password) < MIN_LENGTH:
        raise Invalid.field(field, f"must be at least {MIN_LENGTH} characters", "weak_password")
    if len(password) > MAX_LENGTH:
        raise Invalid.field(field, f"must be at most {MAX_LENGTH} characters", "weak_password")


def hash_password(password: str) -> str:
    check_new(password)
    return _hasher.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """True when ``password`` matches; an account without a password never matches."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


async def hashed(password: str) -> str:
    """``hash_password`` off the event loop."""
    check_new(password)
    return await asyncio.to_thread(hash_password, password)


async def verified(stored: str | None, password: str) -> bool:
    """``verify`` off the event loop."""
    return await asyncio.to_thread(verify, stored, password)
