"""Signing in and out, invitation and reset links, the account's own settings.

Sign-in is throttled per account and per client address (the checkout's
sliding-window counters, shared through Redis when configured): past the
budget, even the right password is refused until the window slides on, so
a guesser learns nothing from the answer. Every sign-in, sign-out and
password change is in the audit log with the account.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import structlog
from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from promo import audit
from promo.checkout.throttle import Throttle
from promo.console.access import (
    ANYONE,
    PUBLIC,
    ViewerDep,
    cleared_session_cookie,
    session_cookie,
    session_times,
)
from promo.console.navigation import home
from promo.console.rendering import page
from promo.deps import ClockDep, DbSession
from promo.errors import Invalid, NotFound, TooManyRequests
from promo.ids import Kind, encode
from promo.people import service
from promo.people.models import ConsoleUser
from promo.people.service import LOCALES
from promo.settings import Settings

log = structlog.get_logger("promo.console")


def safe_next(target: str | None) -> str | None:
    """Only a path of the console itself, never another site."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/"):
        return None
    if target.startswith("//") or "\\" in target:
        return None
    return target


def _address(request: Request[Any, Any, Any]) -> str | None:
    return request.client.host if request.client else None


def _retry_minutes(exc: TooManyRequests) -> int:
    seconds = int(exc.extra.get("retry_after", 60))
    return max(1, -(-seconds // 60))


async def _signed_in(
    request: Request[Any, Any, Any], session: DbSession, user: ConsoleUser, now: Any, target: str
) -> Response[Any]:
    settings: Settings = request.app.state.settings
    token = await service.open_session(
        session, user, now=now, times=session_times(settings), address=_address(request)
    )
    await audit.record(
        session,
        service.principal_of(user),
        "console.sign_in",
        encode(Kind.CONSOLE_USER, user.id),
        now=now,
    )
    response: Response[Any] = Redirect(target)
    response.set_cookie(session_cookie(settings, token))
    return response


@get("/login", opt=PUBLIC, name="console:login")
async def login_form(
    request: Request[Any, Any, Any], next: FromQuery[str | None] = None
) -> Response[str]:
    return page(request, "login.html", next=safe_next(next), form={})


@post("/login", opt=PUBLIC)
async def login(
    request: Request[Any, Any, Any], session: DbSession, clock: ClockDep
) -> Response[Any]:
    form = await request.form()
    email = str(form.get("email", "")).strip()
    password = str(form.get("password", ""))
    target = safe_next(str(form.get("next", "")))
    throttle: Throttle = request.app.state.sign_in_throttle
    shown = {"email": email}

    def refused(exc: TooManyRequests) -> Response[str]:
        log.warning("console_sign_in_throttled", address=_address(request))
        return page(
            request,
            "login.html",
            status_code=429,
            headers={"Retry-After": str(exc.extra.get("retry_after", 60))},
            form=shown,
            next=target,
            refused_minutes=_retry_minutes(exc),
        )

    identities = {
        "sign_in_account": email.lower()[:320] or None,
        "sign_in_address": _address(request),
    }
    try:
        attempt = await throttle.begin(identities)
    except TooManyRequests as exc:
        return refused(exc)
    user = await service.check_password(session, email, password)
    try:
        if user is None:
            await attempt.failed()
        else:
            await attempt.succeeded()
    except TooManyRequests as exc:
        return refused(exc)
    if user is None:
        log.info("console_sign_in_failed", address=_address(request))
        return page(request, "login.html", status_code=401, form=shown, next=target, wrong=True)
    return await _signed_in(request, session, user, clock(), target or home(user.role))


@post("/logout", opt=ANYONE)
async def logout(
    request: Request[Any, Any, Any], session: DbSession, clock: ClockDep, viewer: ViewerDep
) -> Response[Any]:
    settings: Settings = request.app.state.settings
    await service.close_session(session, request.cookies.get("promo_session", ""))
    await audit.record(
        session,
        viewer.principal,
        "console.sign_out",
        encode(Kind.CONSOLE_USER, viewer.user_id),
        now=clock(),
    )
    response: Response[Any] = Redirect("/console/login?notice=signed_out")
    response.set_cookie(cleared_session_cookie(settings))
    return response


def _link_page(
    request: Request[Any, Any, Any], template_kind: str, email: str, **context: Any
) -> Response[str]:
    return page(request, "set_password.html", kind=template_kind, email=email, **context)


async def _open(session: DbSession, token: str, now: Any) -> ConsoleUser | None:
    try:
        _, user = await service.open_link(session, token, now=now)
    except NotFound:
        return None
    return user


def _link_handlers(path: str, kind: str) -> list[Any]:
    @get(f"{path}/{{token:str}}", opt=PUBLIC, name=f"console:{kind}")
    async def show(
        request: Request[Any, Any, Any], token: FromPath[str], session: DbSession, clock: ClockDep
    ) -> Response[str]:
        user = await _open(session, token, clock())
        if user is None:
            return page(request, "link_invalid.html", status_code=404)
        return _link_page(request, kind, user.email)

    @post(f"{path}/{{token:str}}", opt=PUBLIC, name=f"console:{kind}:set")
    async def set_password(
        request: Request[Any, Any, Any], token: FromPath[str], session: DbSession, clock: ClockDep
    ) -> Response[Any]:
        now = clock()
        form = await request.form()
        password = str(form.get("password", ""))
        user = await _open(session, token, now)
        if user is None:
            return page(request, "link_invalid.html", status_code=404)
        if password != str(form.get("confirm", "")):
            return _link_page(
                request,
                kind,
                user.email,
                status_code=422,
                errors={"confirm": "does not match the password"},
            )
        try:
            await service.use_link(session, token, password, now=now)
        except Invalid as exc:
            return _link_page(
                request,
                kind,
                user.email,
                status_code=422,
                errors={"password": exc.errors[0].message if exc.errors else exc.detail},
            )
        except NotFound:
            return page(request, "link_invalid.html", status_code=404)
        await audit.record(
            session,
            service.principal_of(user),
            f"user.{'invite' if kind == 'invitation' else 'reset'}_used",
            encode(Kind.CONSOLE_USER, user.id),
            now=now,
        )
        return await _signed_in(request, session, user, now, home(user.role))

    return [show, set_password]


@get("/account", opt=ANYONE)
async def account(request: Request[Any, Any, Any], viewer: ViewerDep) -> Response[str]:
    return page(request, "account.html", locales=LOCALES)


@post("/account/language", opt=ANYONE)
async def account_language(
    request: Request[Any, Any, Any], session: DbSession, clock: ClockDep, viewer: ViewerDep
) -> Response[Any]:
    form = await request.form()
    choice = str(form.get("locale", "")) or None
    try:
        await service.set_locale(session, viewer.user_id, choice, now=clock())
    except Invalid:
        return page(
            request,
            "account.html",
            status_code=422,
            locales=LOCALES,
            errors={"locale": "is not a language of the console"},
        )
    return Redirect("/console/account?notice=saved")


@post("/account/password", opt=ANYONE)
async def account_password(
    request: Request[Any, Any, Any], session: DbSession, clock: ClockDep, viewer: ViewerDep
) -> Response[Any]:
    """A new password ends every session of the account, this one too; the
    browser that changed it gets a new one."""
    now = clock()
    form = await request.form()
    current = await service.check_password(session, viewer.email, str(form.get("current", "")))
    errors: dict[str, str] = {}
    new = str(form.get("password", ""))
    if current is None:
        errors["current"] = "is not your current password"
    elif new != str(form.get("confirm", "")):
        errors["confirm"] = "does not match the password"
    else:
        try:
            await service.set_password(session, current, new, now=now)
        except Invalid as exc:
            errors["password"] = exc.errors[0].message if exc.errors else exc.detail
    if errors or current is None:
        return page(request, "account.html", status_code=422, locales=LOCALES, errors=errors)
    await audit.record(
        session,
        viewer.principal,
        "user.password_change",
        encode(Kind.CONSOLE_USER, viewer.user_id),
        now=now,
    )
    response = await _signed_in(request, session, current, now, "/console/account?notice=saved")
    return response


HANDLERS: list[Any] = [
    login_form,
    login,
    logout,
    *_link_handlers("/invitations", "invitation"),
    *_link_handlers("/password-reset", "reset"),
    account,
    account_language,
    account_password,
]
