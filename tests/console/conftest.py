from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar

from tests.support.console import Browser


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
