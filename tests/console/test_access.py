"""Who may open each console page: every page says so, and the others get a
404 page, as for a resource they may not see (the API's matrix is in
tests/api/test_auth.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession

from promo.auth.roles import Role
from promo.console.access import admits
from promo.people.service import CONSOLE_ROLES
from tests.support.clock import FrozenClock
from tests.support.console import Browser, signed_in
from tests.support.factories import make_affiliate

REFUSED = "There is no such page"


def console_pages(app: Litestar) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, opt) of every console handler."""
    found = []
    for route in app.routes:
        if not route.path.startswith("/console"):
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(getattr(handler, "http_methods", set()) - {"HEAD", "OPTIONS"}):
                found.append((method, route.path, dict(handler.opt)))
    return found


def test_every_console_page_says_who_may_open_it(app: Litestar) -> None:
    pages = console_pages(app)
    assert len(pages) > 20
    silent = [f"{m} {p}" for m, p, opt in pages if "public" not in opt and "roles" not in opt]
    assert silent == []


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x_0", path)


@pytest.mark.parametrize("role", [role.value for role in CONSOLE_ROLES])
async def test_a_page_of_other_roles_is_a_404_page(
    app: Litestar, browser: Browser, db: AsyncSession, clock: FrozenClock, role: str
) -> None:
    who = Role(role)
    affiliate = await make_affiliate(db, now=clock()) if who is Role.AFFILIATE else None
    await signed_in(
        browser, db, clock, f"{role}@example.com", who,
        affiliate_id=affiliate.id if affiliate else None,
    )  # fmt: skip
    checked = 0
    for method, path, opt in console_pages(app):
        roles = tuple(opt.get("roles", ()))
        if opt.get("public") or not roles or method != "GET":
            continue
        answer = await browser.get(_concrete(path))
        viewer_allowed = (who is Role.ADMIN and Role.AFFILIATE not in roles) or who in roles
        if viewer_allowed:
            assert REFUSED not in answer.text, (method, path)
        else:
            checked += 1
            assert answer.status_code == 404, (method, path, answer.status_code)
            assert REFUSED in answer.text, (method, path)
            assert "text/html" in answer.headers["content-type"]
    if who is not Role.ADMIN:
        assert checked > 0


def test_admin_is_let_in_everywhere_but_the_affiliates_own_pages() -> None:
    from promo.people.service import Viewer

    admin = Viewer(
        user_id=1, email="a@x", role=Role.ADMIN, affiliate_id=None, locale=None, session_id=1
    )
    assert admits(admin, (Role.MARKETER,))
    assert admits(admin, (Role.ACCOUNTANT,))
    assert not admits(admin, (Role.AFFILIATE,))
