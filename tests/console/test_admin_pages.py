"""The admin's console pages over HTTP: API keys, accounts and their links, the
audit log; and a marketer inviting a person for an affiliate."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from promo import audit
from promo.audit import AuditEntry
from promo.auth.models import ApiKey
from promo.auth.roles import Role
from promo.ids import Kind, encode
from promo.people import service
from promo.people.models import ConsoleUser
from tests.support.clock import FrozenClock
from tests.support.console import PASSWORD, Browser, make_account
from tests.support.factories import bearer, make_affiliate

SECRET = re.compile(r'<code class="secret" id="secret">([^<]+)</code>')
LINK = re.compile(r'<code class="secret">([^<]+)</code>')
NEW_PASSWORD = "a brand new console password"


@pytest.fixture
async def admin(browser: Browser, db: AsyncSession, clock: FrozenClock) -> Browser:
    await make_account(db, clock, "root@example.com", Role.ADMIN)
    await browser.sign_in("root@example.com")
    return browser


async def last_audit(db: AsyncSession) -> AuditEntry:
    entry = await db.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()))
    assert entry is not None
    return entry


async def create_key(browser: Browser, form: dict[str, str]) -> tuple[str, str]:
    """The new key's id and secret, from the page answering the form."""
    await browser.get("/console/keys")
    answer = await browser.post("/console/keys", form)
    assert answer.status_code == 201, answer.text
    found = SECRET.search(answer.text)
    assert found
    key_id = re.search(r"<dd>(key_\w+)</dd>", answer.text)
    assert key_id
    return key_id.group(1), found.group(1)


async def invitation(browser: Browser, path: str, form: dict[str, str]) -> str:
    """The path of the link shown once on the answer to an invitation form."""
    answer = await browser.post(path, form)
    assert answer.status_code == 201, answer.text
    found = LINK.search(answer.text)
    assert found
    url = html.unescape(found.group(1))
    assert url.startswith("http://127.0.0.1:8000/console/invitations/")
    return urlsplit(url).path


async def accept(browser: Browser, path: str) -> str:
    """Open a link, choose a password; where the console sends the person then."""
    opened = await browser.get(path)
    assert opened.status_code == 200, opened.text
    answer = await browser.post(path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


async def test_a_new_key_is_shown_once_works_on_the_api_and_stops_when_revoked(
    admin: Browser, db: AsyncSession
) -> None:
    key_id, secret = await create_key(admin, {"role": "marketer", "name": "CRM sync"})
    assert secret.startswith("pk_")
    current = await admin.client.get("/v1/key", headers=bearer(secret))
    assert current.status_code == 200, current.text
    assert current.json()["id"] == key_id
    assert (current.json()["role"], current.json()["name"]) == ("marketer", "CRM sync")
    assert (await admin.client.get("/v1/campaigns", headers=bearer(secret))).status_code == 200
    listed = await admin.get("/console/keys")
    assert key_id in listed.text
    assert "CRM sync" in listed.text
    assert secret not in listed.text
    assert secret[:10] in listed.text  # the prefix tells keys apart
    created = await last_audit(db)
    assert (created.action, created.actor, created.target) == ("key.create", "console", key_id)
    assert secret not in str(created.details)

    revoked = await admin.post(f"/console/keys/{key_id}/revoke")
    assert revoked.status_code == 302
    assert revoked.headers["location"] == "/console/keys?notice=revoked"
    assert (await admin.client.get("/v1/key", headers=bearer(secret))).status_code == 401
    entry = await last_audit(db)
    assert (entry.action, entry.actor, entry.target, entry.role) == (
        "key.revoke",
        "console",
        key_id,
        "admin",
    )
    assert "revoked" in (await admin.get("/console/keys?notice=revoked")).text


async def test_an_affiliate_key_is_bound_to_an_existing_affiliate(
    admin: Browser, db: AsyncSession, clock: FrozenClock
) -> None:
    keys_before = len(list(await db.scalars(select(ApiKey.id))))
    await admin.get("/console/keys")
    missing = await admin.post("/console/keys", {"role": "affiliate", "name": "Anna's"})
    assert missing.status_code == 422
    assert 'id="affiliate_id-error">required for the affiliate role' in missing.text
    unknown = await admin.post(
        "/console/keys", {"role": "affiliate", "affiliate_id": encode(Kind.AFFILIATE, 987654)}
    )
    assert unknown.status_code == 404
    assert 'id="affiliate_id-error">No such affiliate' in unknown.text
    wrong_role = await admin.post("/console/keys", {"role": "superuser"})
    assert wrong_role.status_code == 422
    assert 'id="role-error">' in wrong_role.text
    assert len(list(await db.scalars(select(ApiKey.id)))) == keys_before

    anna = await make_affiliate(db, now=clock())
    anna_id = encode(Kind.AFFILIATE, anna.id)
    _, secret = await create_key(admin, {"role": "affiliate", "affiliate_id": anna_id})
    current = await admin.client.get("/v1/key", headers=bearer(secret))
    assert current.json()["affiliate_id"] == anna_id


async def test_an_invited_person_opens_the_link_once_and_signs_in(
    admin: Browser, other_browser: Browser, db: AsyncSession
) -> None:
    await admin.get("/console/accounts")
    path = await invitation(
        admin, "/console/accounts", {"email": "Acc@Example.com", "role": "accountant"}
    )
    user = await service.user_by_email(db, "acc@example.com")
    entry = await last_audit(db)
    assert (entry.action, entry.actor, entry.target) == (
        "user.invite",
        "console",
        encode(Kind.CONSOLE_USER, user.id),
    )
    assert entry.details == {"email": "acc@example.com", "role": "accountant", "affiliate_id": None}
    assert path.rsplit("/", 1)[1] not in str(entry.details)
    listed = await admin.get("/console/accounts")
    assert "acc@example.com" in listed.text
    assert "invited" in listed.text
    assert path not in listed.text

    assert await accept(other_browser, path) == "/console/ledger"
    assert "acc@example.com" in (await other_browser.get("/console/account")).text
    assert (await other_browser.get(path)).status_code == 404  # once only
    await other_browser.post("/console/logout")
    assert (await other_browser.sign_in("acc@example.com", NEW_PASSWORD)).status_code == 302


async def test_a_refused_invitation_names_the_field_and_creates_nothing(
    admin: Browser, db: AsyncSession
) -> None:
    await admin.get("/console/accounts")
    bad = await admin.post("/console/accounts", {"email": "not-an-address", "role": "marketer"})
    assert bad.status_code == 422
    assert 'id="email-error">' in bad.text
    no_affiliate = await admin.post(
        "/console/accounts", {"email": "a@example.com", "role": "affiliate"}
    )
    assert no_affiliate.status_code == 422
    assert 'id="affiliate_id-error">is required for the affiliate role' in no_affiliate.text
    checkout = await admin.post("/console/accounts", {"email": "a@example.com", "role": "checkout"})
    assert checkout.status_code == 422
    assert 'id="role-error">must be one of' in checkout.text
    emails = list(await db.scalars(select(ConsoleUser.email)))
    assert emails == ["root@example.com"]
    taken = await admin.post("/console/accounts", {"email": "ROOT@example.com", "role": "marketer"})
    assert taken.status_code == 409
    assert 'id="email-error">A console account for root@example.com already exists' in taken.text


async def test_a_reset_link_replaces_the_password(
    admin: Browser, other_browser: Browser, db: AsyncSession, clock: FrozenClock
) -> None:
    user_id = await make_account(db, clock, "mia@example.com", Role.MARKETER)
    public_id = encode(Kind.CONSOLE_USER, user_id)
    await admin.get("/console/accounts")
    answer = await admin.post(f"/console/accounts/{public_id}/link")
    assert answer.status_code == 200, answer.text
    found = LINK.search(answer.text)
    assert found
    url = urlsplit(html.unescape(found.group(1)))
    assert url.path.startswith("/console/password-reset/")
    entry = await last_audit(db)
    assert (entry.action, entry.actor, entry.target) == ("user.reset", "console", public_id)
    assert await accept(other_browser, url.path) == "/console/campaigns"
    await other_browser.post("/console/logout")
    assert (await other_browser.sign_in("mia@example.com", PASSWORD)).status_code == 401


async def test_deactivating_an_account_ends_its_open_session_and_reactivating_lets_it_in(
    admin: Browser, other_browser: Browser, db: AsyncSession, clock: FrozenClock
) -> None:
    user_id = await make_account(db, clock, "mia@example.com", Role.MARKETER)
    public_id = encode(Kind.CONSOLE_USER, user_id)
    await other_browser.sign_in("mia@example.com")
    assert (await other_browser.get("/console/account")).status_code == 200
    await admin.get("/console/accounts")
    answer = await admin.post(f"/console/accounts/{public_id}/active", {"active": "false"})
    assert answer.status_code == 302
    assert answer.headers["location"] == "/console/accounts?notice=deactivated"
    ended = await other_browser.get("/console/account")
    assert ended.status_code == 302
    assert ended.headers["location"].startswith("/console/login")
    assert (await other_browser.sign_in("mia@example.com")).status_code == 401
    entry = await last_audit(db)
    assert (entry.action, entry.actor, entry.target) == ("user.deactivate", "console", public_id)
    assert "inactive" in (await admin.get("/console/accounts")).text
    no_link = await admin.post(f"/console/accounts/{public_id}/link")
    assert no_link.status_code == 409
    assert "mia@example.com is deactivated: reactivate it first" in no_link.text
    unclear = await admin.post(f"/console/accounts/{public_id}/active", {"active": "maybe"})
    assert unclear.status_code == 422
    assert (await last_audit(db)).action == "user.deactivate"

    again = await admin.post(f"/console/accounts/{public_id}/active", {"active": "true"})
    assert again.headers["location"] == "/console/accounts?notice=reactivated"
    assert (await last_audit(db)).action == "user.reactivate"
    assert (await other_browser.sign_in("mia@example.com")).status_code == 302


async def test_an_admin_cannot_deactivate_their_own_account(
    admin: Browser, db: AsyncSession
) -> None:
    me = await service.user_by_email(db, "root@example.com")
    listed = await admin.get("/console/accounts")
    own = encode(Kind.CONSOLE_USER, me.id)
    assert f"/console/accounts/{own}/link" in listed.text
    assert f"/console/accounts/{own}/active" not in listed.text  # no button for it
    refused = await admin.post(f"/console/accounts/{own}/active", {"active": "false"})
    assert refused.status_code == 409
    assert "You cannot deactivate your own account" in refused.text
    await db.refresh(me)
    assert me.active
    assert (await last_audit(db)).action == "console.sign_in"
    assert (await admin.get("/console/accounts")).status_code == 200


async def test_a_marketer_invites_a_person_bound_to_the_affiliate(
    browser: Browser, other_browser: Browser, db: AsyncSession, clock: FrozenClock
) -> None:
    await make_account(db, clock, "mia@example.com", Role.MARKETER)
    await browser.sign_in("mia@example.com")
    anna = await make_affiliate(db, now=clock())
    anna_id = encode(Kind.AFFILIATE, anna.id)
    form = await browser.get(f"/console/affiliates/{anna_id}/invite")
    assert form.status_code == 200
    assert "Anna" in form.text
    path = await invitation(
        browser, f"/console/affiliates/{anna_id}/invite", {"email": "anna.p@example.com"}
    )
    user = await service.user_by_email(db, "anna.p@example.com")
    assert (user.role, user.affiliate_id) == (Role.AFFILIATE, anna.id)
    entry = await last_audit(db)
    assert (entry.action, entry.actor, entry.role) == ("user.invite", "console", "marketer")
    assert entry.details["affiliate_id"] == anna_id
    assert await accept(other_browser, path) == "/console/me/codes"

    again = await browser.post(
        f"/console/affiliates/{anna_id}/invite", {"email": "Anna.P@example.com"}
    )
    assert again.status_code == 409
    assert 'id="email-error">A console account' in again.text
    blank = await browser.post(f"/console/affiliates/{anna_id}/invite", {"email": ""})
    assert blank.status_code == 422
    assert 'id="email-error">' in blank.text
    unknown = encode(Kind.AFFILIATE, 987654)
    nobody = await browser.post(f"/console/affiliates/{unknown}/invite", {"email": "x@example.com"})
    assert nobody.status_code == 404
    assert await db.scalar(select(ConsoleUser).where(ConsoleUser.email == "x@example.com")) is None


async def test_an_inactive_affiliate_gets_no_new_account(
    browser: Browser, db: AsyncSession, clock: FrozenClock
) -> None:
    await make_account(db, clock, "mia@example.com", Role.MARKETER)
    await browser.sign_in("mia@example.com")
    gone = await make_affiliate(db, now=clock(), name="Gone", active=False)
    gone_id = encode(Kind.AFFILIATE, gone.id)
    await browser.get(f"/console/affiliates/{gone_id}/invite")
    refused = await browser.post(
        f"/console/affiliates/{gone_id}/invite", {"email": "gone@example.com"}
    )
    assert refused.status_code == 422
    assert "the affiliate is inactive" in refused.text


async def audited(browser: Browser, query: str) -> list[tuple[str, str]]:
    """(action, target) of the rows the audit page shows for ``query``."""
    answer = await browser.get(f"/console/audit?{query}")
    assert answer.status_code == 200, answer.text
    return re.findall(r"<td><code>([\w.]+)</code></td>\s*<td>([^<]*)</td>", answer.text)


async def test_audit_filters_narrow_the_list(
    admin: Browser, db: AsyncSession, clock: FrozenClock
) -> None:
    clock.advance(minutes=1)  # 12:01
    key_id, _ = await create_key(admin, {"role": "checkout", "name": "till"})
    clock.advance(minutes=1)  # 12:02
    await admin.get("/console/accounts")
    await invitation(admin, "/console/accounts", {"email": "acc@example.com", "role": "accountant"})
    account = encode(Kind.CONSOLE_USER, (await service.user_by_email(db, "acc@example.com")).id)
    clock.advance(minutes=1)  # 12:03
    await audit.record(db, audit.cli_actor(), "key.revoke", key_id, now=clock())
    await db.flush()

    everything = await audited(admin, "")
    assert everything[:3] == [
        ("key.revoke", key_id),
        ("user.invite", account),
        ("key.create", key_id),
    ]
    assert await audited(admin, "action=key.create") == [("key.create", key_id)]
    assert await audited(admin, f"target={key_id}") == [
        ("key.revoke", key_id),
        ("key.create", key_id),
    ]
    assert await audited(admin, "actor=cli") == [("key.revoke", key_id)]
    assert ("key.revoke", key_id) not in await audited(admin, "actor=console")
    assert await audited(admin, "from=2026-07-01T12:02&to=2026-07-01T12:03") == [
        ("user.invite", account)
    ]
    assert await audited(admin, "role=marketer") == []
    page = await admin.get("/console/audit")
    assert "root@example.com" in page.text  # the console account acting, by e-mail
    assert "<details" in page.text
    assert "till" in page.text

    bad = await admin.get("/console/audit?from=yesterday")
    assert bad.status_code == 422
    assert 'id="from-error">' in bad.text
    assert (await admin.get("/console/audit?actor=robot")).status_code == 422


async def test_the_audit_log_pages_with_a_cursor_keeping_the_filters(
    admin: Browser, db: AsyncSession, clock: FrozenClock
) -> None:
    for n in range(55):
        await audit.record(db, audit.cli_actor(), "code.create", f"CODE{n}", now=clock())
    await db.flush()
    first = await admin.get("/console/audit?action=code.create")
    rows = re.findall(r"<td>(CODE\d+)</td>", first.text)
    assert rows[:2] == ["CODE54", "CODE53"]
    assert len(rows) == 50
    found = re.search(r'<a href="([^"]+)" rel="next">', first.text)
    assert found
    following = html.unescape(found.group(1))
    assert "action=code.create" in following
    second = await admin.get(following)
    assert re.findall(r"<td>(CODE\d+)</td>", second.text) == [f"CODE{n}" for n in range(4, -1, -1)]
    assert 'rel="next"' not in second.text


@pytest.mark.parametrize("role", [Role.MARKETER, Role.ACCOUNTANT, Role.AFFILIATE])
async def test_other_roles_find_no_admin_pages(
    browser: Browser, db: AsyncSession, clock: FrozenClock, role: Role
) -> None:
    affiliate_id = (await make_affiliate(db, now=clock())).id if role is Role.AFFILIATE else None
    user_id = await make_account(db, clock, "who@example.com", role, affiliate_id=affiliate_id)
    await browser.sign_in("who@example.com")
    for path in ("/console/keys", "/console/accounts", "/console/audit"):
        answer = await browser.get(path)
        assert answer.status_code == 404, path
        assert "text/html" in answer.headers["content-type"]
    await browser.get("/console/account")
    own = encode(Kind.CONSOLE_USER, user_id)
    for path, form in [
        ("/console/keys", {"role": "admin"}),
        ("/console/accounts", {"email": "x@example.com", "role": "admin"}),
        (f"/console/accounts/{own}/link", {}),
    ]:
        assert (await browser.post(path, form)).status_code == 404, path
    assert await db.scalar(select(ApiKey).where(ApiKey.role == "admin")) is None
    assert len(list(await db.scalars(select(ConsoleUser.id)))) == 1


@pytest.mark.parametrize("role", [Role.ACCOUNTANT, Role.AFFILIATE])
async def test_only_marketers_and_admins_invite_for_an_affiliate(
    browser: Browser, db: AsyncSession, clock: FrozenClock, role: Role
) -> None:
    anna = await make_affiliate(db, now=clock())
    bound = anna.id if role is Role.AFFILIATE else None
    await make_account(db, clock, "who@example.com", role, affiliate_id=bound)
    await browser.sign_in("who@example.com")
    await browser.get("/console/account")
    path = f"/console/affiliates/{encode(Kind.AFFILIATE, anna.id)}/invite"
    assert (await browser.get(path)).status_code == 404
    assert (await browser.post(path, {"email": "x@example.com"})).status_code == 404
    assert len(list(await db.scalars(select(ConsoleUser.id)))) == 1
