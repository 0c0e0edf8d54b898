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
from litestar.plugins.prometheus import PrometheusConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from promo.settings import Settings

REQUEST_ID_HEADER = "x-request-id"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access_log = structlog.get_logger("promo.access")


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
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
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
    access_log.info(
        "request",
        method=scope.get("method"),
        path=scope["path"],
        status=message["status"],
        duration_ms=round((time.perf_counter() - state["started"]) * 1000, 2),
    )


def prometheus_config() -> PrometheusConfig:
    """Request counts and latency histograms per route template (not raw path)."""
    return PrometheusConfig(
        app_name="promo",
        prefix="promo",
        group_path=True,
        exclude=["^/metrics"],
    )
