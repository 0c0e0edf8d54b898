"""Signing in and out of the console, sessions, CSRF and the headers, over HTTP."""

from __future__ import annotations

import structlog.testing
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.audit import AuditEntry
from promo.auth.roles import Role
from promo.people import service
from tests.support.clock import FrozenClock
from tests.support.console import PASSWORD, Browser, make_account


async def test_a_page_without_a_session_sends_to_sign_in(browser: Browser) -> None:
    answer = await browser.get("/console/campaigns?status=active")
    assert answer.status_code == 302
    assert (
        answer.headers["location"] == "/console/login?next=%2Fconsole%2Fcampaigns%3Fstatus%3Dactive"
    )


async def test_sign_in_opens_a_session_and_sign_out_ends_it(
    browser: Browser, db: AsyncSession, clock: FrozenClock
) -> None:
    await make_account(db, clock, "mia@example.com", Role.MARKETER)
    answer = await browser.sign_in("Mia@Example.com")
    assert answer.status_code == 302, answer.text
    assert answer.headers["location"] == "/console/campaigns"
    cookie = answer.headers["set-cookie"]
    assert "promo_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/console" in cookie
    account = await browser.get("/console/account")
    assert account.status_code == 200
    assert "mia@example.com" in account.text
    out = await browser.post("/console/logout")
    assert out.status_code == 302
    assert out.headers["location"] == "/console/login?notice=signed_out"
    again = await browser.get("/console/account")
    assert again.status_code == 302
    actions = list(await db.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-2:] == ["console.sign_in", "console.sign_out"]


async def test_an_old_session_cookie_is_refused_after_sign_out(
    browser: Browser, db: AsyncSession, clock: FrozenClock
) -> None:
    await make_account(db, clock, "mia@example.com", Role.MARKETER)
    await browser.sign_in("mia@example.com")
    kept = browser.client.cookies.get("promo_session")
    await browser.get("/console/account")
    await browser.post("/console/logout")
    browser.client.cookies.set("promo_session", kept or "", domain="promo.test", path="/console")
    assert (await browser.get("/console/account")).status_code == 302


async def test_a_wrong_password_is_refused_without_saying_which_part(
    browser: Browser, db: AsyncSession, clock: FrozenClock
) -> None:
    await make_account(db, clock, "mia@example.com", Role.MARKETER)
    wrong = await browser.sign_in("mia@example.com", "not the password at all")
    unknown = await browser.sign_in("nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert "do not match an active account" in wrong.text
    assert "do not match an active account" in unknown.text
    assert "promo_session" not in browser.client.cookies


async def test_sign_in_is_throttled_per_account_even_with_the_right_password(
    browser: Browser, other_browser: Browser, db: AsyncSession, clock: FrozenClock
) -> None:
    await make_account(db, clock, "mia@example.com", Role.MARKETER)
    for _ in range(5):
        assert (await browser.sign_in("mia@example.com", "guess guess guess")).status_code == 401
    refused = await other_browser.sign_in("mia@example.com")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "Too many failed sign-ins" in refused.text
    assert "promo_session" not in other_browser.client.cookies


async def test_sign_in_is_throttled_per_address(
    browser: Browser, db: AsyncSession, clock: FrozenClock
) -> None:
    await make_account(db, clock, "mia@example.com", Role.MARKETER)
    for n in range(20):
        answer = await browser.sign_in(f"guess{n}@example.com", "guess guess guess")
        assert answer.status_code == 401
    assert (await browser.sign_in("mia@example.com")).status_code == 429


async def test_a_form_without_the_csrf_token_is_refused(
    browser: Browser, db: AsyncSession, clock: FrozenClock
) -> None:
    await make_account(db, clock, "mia@example.com", Role.MARKETER)
    await browser.get("/console/login")
    refused = await browser.post(
        "/console/login", {"email": "mia@example.com", "password": PASSWORD}, token=False
    )
    assert refused.status_code == 403
    assert "text/html" in refused.headers["content-type"]
    assert "This form has expired" in refused.text
    assert "promo_session" not in browser.client.cookies
    await browser.sign_in("mia@example.com")
    kept = await browser.post("/console/logout", token=False)
    assert kept.status_code == 403
    assert (await browser.get("/console/account")).status_code == 200


async def test_deactivating_an_account_ends_its_sessions(
    browser: Browser, db: AsyncSession, clock: FrozenClock
) -> None:
    user_id = await make_account(db, clock, "mia@example.com", Role.MARKETER)
    await browser.sign_in("mia@example.com")
    assert (await browser.get("/console/account")).status_code == 200
    user = await service.get_user(db, user_id)
    await service.set_active(db, user, False, now=clock())
    await db.flush()
    assert (await browser.get("/console/account")).status_code == 302
    assert (await browser.sign_in("mia@example.com")).status_code == 401


async def test_an_invitation_sets_the_password_and_signs_in(
    browser: Browser, db: AsyncSession, clock: FrozenClock
) -> None:
    user_id = await make_account(db, clock, "new@example.com", Role.ACCOUNTANT, password=None)
    token = await service.issue_link(db, await service.get_user(db, user_id), "invite", now=clock())
    shown = await browser.get(f"/console/invitations/{token}")
    assert shown.status_code == 200
    assert "new@example.com" in shown.text
    short = await browser.post(
        f"/console/invitations/{token}", {"password": "short", "confirm": "short"}
    )
    assert short.status_code == 422
    assert "at least 12" in short.text
    done = await browser.post(
        f"/console/invitations/{token}", {"password": PASSWORD, "confirm": PASSWORD}
    )
    assert done.status_code == 302
    assert done.headers["location"] == "/console/ledger"
    assert (await browser.get("/console/account")).status_code == 200
    used = await browser.get(f"/console/invitations/{token}")
    assert used.status_code == 404
    assert "not valid" in used.text


async def test_a_links_token_is_not_written_to_the_access_log(
    browser: Browser, db: AsyncSession, clock: FrozenClock
) -> None:
    user_id = await make_account(db, clock, "new@example.com", Role.ACCOUNTANT, password=None)
    token = await service.issue_link(db, await service.get_user(db, user_id), "invite", now=clock())
    with structlog.testing.capture_logs() as logged:
        assert (await browser.get(f"/console/invitations/{token}")).status_code == 200
        await browser.get(f"/console/password-reset/{token}")
    paths = [line["path"] for line in logged if line.get("event") == "request"]
    assert paths == ["/console/invitations/{token}", "/console/password-reset/{token}"]
    assert token not in repr(logged)


async def test_changing_the_password_ends_other_sessions(
    browser: Browser, other_browser: Browser, db: AsyncSession, clock: FrozenClock
) -> None:
    await make_account(db, clock, "mia@example.com", Role.MARKETER)
    await browser.sign_in("mia@example.com")
    await other_browser.sign_in("mia@example.com")
    await browser.get("/console/account")
    new = "another long password 2"
    changed = await browser.post(
        "/console/account/password", {"current": PASSWORD, "password": new, "confirm": new}
    )
    assert changed.status_code == 302, changed.text
    assert (await browser.get("/console/account")).status_code == 200
    assert (await other_browser.get("/console/account")).status_code == 302


async def test_pages_carry_the_security_headers(browser: Browser) -> None:
    answer = await browser.get("/console/login")
    assert answer.status_code == 200
    policy = answer.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"
    assert "<script>" not in answer.text
    assert " style=" not in answer.text
    missing = await browser.get("/console/no/such/page")
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]
    assert missing.headers["x-frame-options"] == "DENY"


async def test_a_next_target_off_the_console_is_ignored(
    browser: Browser, db: AsyncSession, clock: FrozenClock
) -> None:
    await make_account(db, clock, "mia@example.com", Role.MARKETER)
    await browser.get("/console/login")
    answer = await browser.post(
        "/console/login",
        {"email": "mia@example.com", "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert answer.headers["location"] == "/console/campaigns"


async def test_the_language_follows_the_browser_then_the_account(
    browser: Browser, db: AsyncSession, clock: FrozenClock
) -> None:
    french = await browser.get("/console/login", headers={"accept-language": "fr-FR,fr;q=0.9"})
    assert '<html lang="fr">' in french.text
    assert "Se connecter" in french.text
    await make_account(db, clock, "mia@example.com", Role.MARKETER)
    await browser.sign_in("mia@example.com")
    await browser.get("/console/account")
    await browser.post("/console/account/language", {"locale": "fr"})
    page = await browser.get("/console/account")
    assert '<html lang="fr">' in page.text
