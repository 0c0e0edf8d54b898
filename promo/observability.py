"""JSON structured logs with a request id, and Prometheus metrics.

Each request gets an id (the caller's ``X-Request-ID`` when it is sane, else
a new one) that is bound to every log line of the request and returned in
the ``X-Request-ID`` response header. One access log line per request replaces
the server's own access log.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import Any

import structlog
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter, Histogram

from promo.settings import Settings

REQUEST_ID_HEADER = "x-request-id"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access_log = structlog.get_logger("promo.access")

# Recorded in the before_send hook, which sees every response, including
# the 401s raised by authentication middleware. With several workers,
# prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR) aggregates.
REQUESTS = Counter("promo_requests", "HTTP requests served", ["method", "path", "status_code"])
LATENCY = Histogram(
    "promo_request_duration_seconds",
    "Time from request to response start",
    ["method", "path"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


def configure_logging(settings: Settings) -> None:
    """Route stdlib and structlog records through one JSON (or console) renderer."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        # Events below the level are dropped before any processor runs (the
        # access log is written for every request).
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).handlers[:] = []
        logging.getLogger(noisy).propagate = False


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Give the request its id and bind it to every log line of the request.

    Each request runs in its own task, so the bound context vars end with it;
    they are cleared first in case the server reuses a task.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            _request_state(scope)
        await app(scope, receive, send)

    return middleware


def _request_state(scope: Scope) -> dict[str, Any]:
    state: dict[str, Any] = scope.setdefault("state", {})
    if "request_id" not in state:
        incoming = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), ""
        )
        state["request_id"] = incoming if _SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        state["started"] = time.perf_counter()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=state["request_id"])
    return state


async def stamp_response(message: Message, scope: Scope) -> None:
    """``before_send`` hook: sees every response, error responses included."""
    if message["type"] != "http.response.start" or scope["type"] != ScopeType.HTTP:
        return
    state = _request_state(scope)
    MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = state["request_id"]
    elapsed = time.perf_counter() - state["started"]
    method = str(scope.get("method", ""))
    status = message["status"]
    # Label by route template ("/v1/codes/{code}"), never by raw path, so
    # that ids and codes do not explode the label space.
    route = str(scope.get("path_template") or "unmatched")
    if route != "/metrics":
        REQUESTS.labels(method, route, str(status)).inc()
        LATENCY.labels(method, route).observe(elapsed)
    # A path that carries a secret (an invitation or reset link's token) is
    # logged as its template: the token works once, but not for log readers.
    path = route if "{token" in route else scope["path"]
    access_log.info(
        "request",
        method=method,
        path=path,
        status=status,
        duration_ms=round(elapsed * 1000, 2),
    )
