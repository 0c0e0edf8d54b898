from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession

from promo.auth.roles import Role
from tests.support.clock import FrozenClock
from tests.support.console import Browser, signed_in


@pytest.fixture
async def browser(app: Litestar) -> AsyncIterator[Browser]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://promo.test") as client:
        yield Browser(client)


@pytest.fixture
async def other_browser(app: Litestar) -> AsyncIterator[Browser]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://promo.test") as client:
        yield Browser(client)


@pytest.fixture
async def marketer(browser: Browser, db: AsyncSession, clock: FrozenClock) -> Browser:
    """``browser`` signed in as a marketer."""
    return await signed_in(browser, db, clock, "mia@example.com", Role.MARKETER)
