"""The HTTP side of Idempotency-Key: claim, run once, store, replay.

Shared by every POST that moves money or usage. The work runs in the
request's transaction (``unit``) and its response is stored in that same transaction,
so "done" and "recorded as done" cannot disagree. A refusal (a domain error)
rolls the work back first, then is stored on its own, and is replayed as it
was. An unexpected failure or a 429 forgets the claim so that a retry runs again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Request, Response

from promo import idempotency
from promo.auth.service import Principal
from promo.clock import Clock
from promo.db.autocommit import Autocommit, Unit
from promo.errors import PROBLEM_MEDIA_TYPE, DomainError, TooManyRequests, render_domain_error

REPLAYED_HEADER = "Idempotent-Replayed"


def identify(
    request: Request[Any, Any, Any], operation: str, principal: Principal, payload: msgspec.Struct
) -> tuple[str, str, str]:
    """(scope, key, fingerprint) of a request: 400/422 when its key is missing or too long.

    Keys belong to the caller's role and affiliate, and to one operation.
    """
    key = idempotency.check_key(request.headers.get("idempotency-key"))
    scope = f"{operation}:{principal.role.value}:{principal.affiliate_id or ''}"
    return scope, key, idempotency.request_fingerprint(scope, payload)


async def run_once(
    request: Request[Any, Any, Any],
    *,
    operation: str,
    principal: Principal,
    payload: msgspec.Struct,
    unit: Unit,
    clock: Clock,
    work: Callable[[], Awaitable[tuple[int, msgspec.Struct]]],
) -> Response[bytes]:
    scope, key, fingerprint = identify(request, operation, principal, payload)
    writes: Autocommit = request.app.state.writes
    claimed = await idempotency.claim(
        writes, scope=scope, key=key, fingerprint=fingerprint, clock=clock
    )
    if isinstance(claimed, idempotency.Replay):
        return respond(claimed.status_code, claimed.body, replayed=True)
    try:
        status_code, result = await work()
    except TooManyRequests:
        # Not an answer to the request, only to its timing: a retry runs again.
        await unit.rollback()
        await idempotency.release(writes, claimed)
        raise
    except DomainError as exc:
        await unit.rollback()
        status_code, body = render_domain_error(exc)
        await idempotency.complete(writes, claimed, status_code=status_code, body=body, clock=clock)
        raise
    except BaseException:
        await unit.rollback()
        await idempotency.release(writes, claimed)
        raise
    body = msgspec.json.encode(result)
    await idempotency.complete(unit, claimed, status_code=status_code, body=body, clock=clock)
    return respond(status_code, body, replayed=False)


def respond(status_code: int, body: bytes, *, replayed: bool) -> Response[bytes]:
    """An answer as stored: problem+json for errors; marked when it is a replay."""
    media_type = PROBLEM_MEDIA_TYPE if status_code >= 400 else "application/json"
    headers = {REPLAYED_HEADER: "true"} if replayed else {}
    return Response(body, status_code=status_code, media_type=media_type, headers=headers)
