"""Bearer-key authentication for every route except health, metrics and docs."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from promo.auth.service import authenticate
from promo.db.autocommit import Autocommit
from promo.errors import Unauthenticated

# The console signs people in with its own sessions (promo.console.access).
PUBLIC_PATHS = ["^/health", "^/metrics", "^/schema", "^/console"]
MAX_KEY_LENGTH = 200


class ApiKeyAuthentication(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise Unauthenticated(
                "unauthorized", "Missing API key: send Authorization: Bearer <key>"
            )
        if len(key) > MAX_KEY_LENGTH:
            raise Unauthenticated("unauthorized", "Invalid or revoked API key")
        reads: Autocommit = connection.app.state.reads
        principal = await authenticate(reads, key)
        if principal is None:
            raise Unauthenticated("unauthorized", "Invalid or revoked API key")
        return AuthenticationResult(user=principal, auth=principal)
