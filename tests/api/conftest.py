from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from promo.auth.roles import Role
from tests.support.clock import FrozenClock
from tests.support.factories import bearer, make_key


@pytest.fixture
async def keys(db: AsyncSession, clock: FrozenClock) -> dict[Role, str]:
    """One live API key per role (the affiliate key is bound to a fresh affiliate)."""
    return {role: await make_key(db, role, now=clock()) for role in Role}


@pytest.fixture
def marketer(keys: dict[Role, str]) -> dict[str, str]:
    return bearer(keys[Role.MARKETER])


@pytest.fixture
def checkout(keys: dict[Role, str]) -> dict[str, str]:
    return bearer(keys[Role.CHECKOUT])
