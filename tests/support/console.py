"""A console user agent for tests over HTTP: cookies, the CSRF token of the
last page, and accounts made the way `promo users` makes them."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from promo.auth.roles import Role
from promo.people import service
from tests.support.clock import FrozenClock

PASSWORD = "correct horse battery staple"
_TOKEN = re.compile(r'name="_csrf_token" value="([^"]+)"')


class Browser:
    """What a person's browser does with the console: keeps its cookies and
    sends each form back with the token the page gave it."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.token = ""

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        answer = await self.client.get(path, **kwargs)
        found = _TOKEN.search(answer.text)
        if found:
            self.token = found.group(1)
        return answer

    async def post(
        self,
        path: str,
        data: dict[str, Any] | None = None,
        *,
        token: bool = True,
        files: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """Submit a form (``files``: a multipart form's file fields)."""
        form = dict(data or {})
        if token:
            form["_csrf_token"] = self.token
        answer = await self.client.post(path, data=form, files=files)
        found = _TOKEN.search(answer.text)
        if found:
            self.token = found.group(1)
        return answer

    async def sign_in(self, email: str, password: str = PASSWORD) -> httpx.Response:
        await self.get("/console/login")
        return await self.post("/console/login", {"email": email, "password": password})


async def make_account(
    db: AsyncSession,
    clock: FrozenClock,
    email: str,
    role: Role,
    *,
    affiliate_id: int | None = None,
    password: str | None = PASSWORD,
) -> int:
    user = await service.create_user(
        db, email=email, role=role, affiliate_id=affiliate_id, now=clock(), password=password
    )
    await db.flush()
    return user.id


async def signed_in(
    browser: Browser, db: AsyncSession, clock: FrozenClock, email: str, role: Role, **kw: Any
) -> Browser:
    """``browser`` signed in to a new account of ``role``."""
    await make_account(db, clock, email, role, **kw)
    answer = await browser.sign_in(email)
    assert answer.status_code == 302, answer.text
    return browser
