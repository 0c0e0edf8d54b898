"""The console mounted at /console: its pages, assets, guards and error pages.

Everything here is the console's own layer of the app: the CSRF middleware,
the session lookup and the security headers apply to these routes only, and
an error on a page is shown as a page, with the same status, reason and
field errors the API would answer (``promo.errors.problem_for``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, Router, get
from litestar.di import Provide
from litestar.params import FromPath
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router

from promo.console.access import (
    ANYONE,
    PUBLIC,
    ViewerDep,
    attach_viewer,
    csrf_middleware,
    provide_console_principal,
    provide_viewer,
    security_headers,
)
from promo.console.navigation import home
from promo.console.pages import (
    admin,
    affiliates,
    audit,
    campaigns,
    codes,
    conversions,
    imports,
    ledger,
    me,
    payouts,
    performance,
    plans,
    reservations,
    signin,
)
from promo.console.rendering import page
from promo.errors import PROBLEM_MAP, NotFound, problem_for
from promo.settings import Settings

STATIC = Path(__file__).parent / "static"


def error_page(request: Request[Any, Any, Any], exc: Exception) -> Template:
    problem = problem_for(exc)
    extra = problem.extra if isinstance(problem.extra, dict) else {}
    status = problem.status_code
    if status == 403 and extra.get("code") == "forbidden" and "CSRF" in str(problem.detail):
        detail = "This form has expired. Go back, reload the page and send it again."
    else:
        detail = str(problem.detail)
    return page(
        request,
        "error.html",
        status_code=status,
        title=problem.title or "Error",
        detail=detail,
        code=extra.get("code"),
        field_errors=extra.get("errors", []),
    )


@get("/", opt=ANYONE)
async def console_home(viewer: ViewerDep) -> Redirect:
    return Redirect(home(viewer.role))


@get("/{rest:path}", opt=PUBLIC, name="console:missing")
async def missing(rest: FromPath[str]) -> None:
    raise NotFound("not_found", "There is no such page")


def console_router(settings: Settings) -> Router:
    handlers: list[Any] = [
        console_home,
        *signin.HANDLERS,
        *campaigns.HANDLERS,
        *codes.HANDLERS,
        *imports.HANDLERS,
        *affiliates.HANDLERS,
        *plans.HANDLERS,
        *conversions.HANDLERS,
        *performance.HANDLERS,
        *reservations.HANDLERS,
        *me.HANDLERS,
        *admin.HANDLERS,
        *audit.HANDLERS,
        *ledger.HANDLERS,
        *payouts.HANDLERS,
        create_static_files_router(
            path="/static", directories=[STATIC], include_in_schema=False, opt=PUBLIC
        ),
        missing,
    ]
    return Router(
        path="/console",
        route_handlers=handlers,
        middleware=[security_headers, csrf_middleware(settings)],
        before_request=attach_viewer,
        dependencies={
            "viewer": Provide(provide_viewer, sync_to_thread=False),
            "principal": Provide(provide_console_principal, sync_to_thread=False),
        },
        exception_handlers={cls: error_page for cls in (*PROBLEM_MAP, ProblemDetailsException)},
        include_in_schema=False,
    )
