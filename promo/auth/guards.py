"""Route guards by role; ``admin`` may do everything."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from promo.auth.roles import Principal, Role
from promo.errors import Forbidden


def allow(*roles: Role) -> Guard:
    """A guard admitting the given roles (and admin); others get 403."""
    allowed = frozenset((*roles, Role.ADMIN))

    # Async, so that Litestar calls it inline instead of in a worker thread.
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if connection.scope.get("method") == "OPTIONS":
            return  # no data: Litestar answers with the allowed methods
        principal: Principal = connection.user
        if principal.role not in allowed:
            raise Forbidden(
                "forbidden",
                f"The {principal.role.value} role may not do this; "
                f"allowed: {', '.join(sorted(r.value for r in allowed))}",
            )

    return guard


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    principal: Principal = request.user
    return principal
