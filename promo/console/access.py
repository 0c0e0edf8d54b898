"""Who is looking: the session cookie, the role a page needs, and the
headers every console answer carries.

A page declares who may open it in its handler's ``opt``: ``public`` (the
sign-in and link pages) or ``roles`` (admin is always let in, as with API
keys, except to the affiliate's own pages, which need an affiliate). A
request without a live session is sent to the sign-in page; one with a
session of another role gets a 404 page, like a resource it may not see.

The session cookie is HttpOnly and SameSite=Lax, Secure per the settings;
state-changing requests also carry the CSRF token (Litestar's middleware,
on the console's router only: the API is called with bearer keys, which a
browser never sends by itself).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.response import Redirect
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from promo.auth.roles import Principal, Role
from promo.clock import Clock
from promo.errors import NotFound
from promo.people.service import SessionTimes, Viewer, viewer_of
from promo.settings import Settings

SESSION_COOKIE = "promo_session"
CSRF_COOKIE = "promo_csrf"
PATH = "/console"

# No inline script or style, nothing from elsewhere, never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
# Who may open a page (a handler's ``opt``): nobody signed in, anyone signed in,
# or some roles (``{"roles": (Role.MARKETER,)}``). Every console page says which.
PUBLIC = {"public": True}
ANYONE: dict[str, tuple[Role, ...]] = {"roles": ()}

# Console handlers receive the signed-in person as ``viewer: ViewerDep``.
ViewerDep = NamedDependency[Viewer]

HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


def session_times(settings: Settings) -> SessionTimes:
    from datetime import timedelta

    return SessionTimes(
        idle=timedelta(minutes=settings.console_idle_minutes),
        absolute=timedelta(days=settings.console_session_days),
    )


def session_cookie(settings: Settings, token: str) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        path=PATH,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
        max_age=settings.console_session_days * 86_400,
    )


def cleared_session_cookie(settings: Settings) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value="",
        path=PATH,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
        max_age=0,
    )


def csrf_middleware(settings: Settings) -> DefineMiddleware:
    return DefineMiddleware(
        CSRFMiddleware,
        config=CSRFConfig(
            secret=settings.secret,
            cookie_name=CSRF_COOKIE,
            cookie_path=PATH,
            cookie_secure=settings.secure_cookies,
            cookie_httponly=True,
            cookie_samesite="lax",
        ),
    )


def security_headers(app: ASGIApp) -> ASGIApp:
    """Add the console's headers to every answer, error pages included."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware


def admits(viewer: Viewer, roles: tuple[Role, ...]) -> bool:
    if viewer.role == Role.ADMIN:
        return Role.AFFILIATE not in roles or len(roles) > 1
    return viewer.role in roles


async def attach_viewer(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """``before_request`` of the console: resolve the session, or send to sign-in."""
    opt = request.route_handler.opt
    if opt.get("public"):
        return None
    state = request.app.state
    token = request.cookies.get(SESSION_COOKIE)
    viewer: Viewer | None = None
    if token:
        sessionmaker: async_sessionmaker[AsyncSession] = state.sessionmaker
        clock: Clock = state.clock
        async with sessionmaker() as session, session.begin():
            viewer = await viewer_of(
                session, token, now=clock(), times=session_times(state.settings)
            )
    if viewer is None:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        where = "" if request.method != "GET" else f"?next={quote(target, safe='')}"
        return Redirect(f"{PATH}/login{where}")
    request.scope.setdefault("state", {})["viewer"] = viewer
    roles: tuple[Role, ...] = tuple(opt.get("roles", ()))
    if roles and not admits(viewer, roles):
        raise NotFound("not_found", "There is no such page")
    return None


def provide_viewer(request: Request[Any, Any, Any]) -> Viewer:
    viewer: Viewer = request.scope["state"]["viewer"]
    return viewer


def provide_console_principal(request: Request[Any, Any, Any]) -> Principal:
    """The services' caller on console pages: the signed-in account."""
    return provide_viewer(request).principal
