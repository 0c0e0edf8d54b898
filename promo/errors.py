"""Domain errors and the one place that turns every failure into problem+json.

Services raise ``DomainError`` subclasses that carry a stable machine ``code``
and know nothing of HTTP. ``problem_details_plugin()`` holds the single map from
those (and from Litestar's own validation, auth and routing exceptions) to
RFC 9457 ``application/problem+json`` responses with the extra ``code`` field
(and ``errors: [{field, message}]`` for field errors).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

import msgspec
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    SerializationException,
    ValidationException,
)
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("promo.errors")


class FieldError(msgspec.Struct, frozen=True):
    """One invalid field: a JSON path such as ``cart.items[3].quantity``."""

    field: str
    message: str


class DomainError(Exception):
    """Base of every expected failure of the service; subclasses choose the status."""

    title = "Request failed"

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        errors: Sequence[FieldError] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.errors = tuple(errors)
        self.extra = dict(extra or {})


class NotFound(DomainError):
    title = "Not found"


class Conflict(DomainError):
    """The request is valid but clashes with the current state (limits, duplicates)."""

    title = "Conflict"


class Invalid(DomainError):
    """The request is well-formed but its content breaks a rule."""

    title = "Invalid request"

    @classmethod
    def field(cls, field: str, message: str, code: str = "invalid_field") -> Invalid:
        return cls(code, f"{field}: {message}", errors=[FieldError(field, message)])


class BadRequest(DomainError):
    """The request cannot be understood (unparseable, missing required header)."""

    title = "Bad request"


class Unauthenticated(DomainError):
    title = "Unauthorized"


class Forbidden(DomainError):
    title = "Forbidden"


class TooManyRequests(DomainError):
    title = "Too many requests"


class TooLarge(DomainError):
    """The request's body is beyond a bound (an upload of codes)."""

    title = "Payload too large"


STATUS_OF: dict[type[DomainError], int] = {
    BadRequest: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Invalid: 422,
    TooLarge: 413,
    TooManyRequests: 429,
}

# How long a client should wait before retrying while the database is away:
# a restart of PostgreSQL takes a few seconds, and every pool reconnects on
# the first request after it.
DATABASE_RETRY_AFTER_SECONDS = 2
# SQLSTATEs of a database that is unreachable, stopping, starting, or full: class
# 08 (connection exception), 57P01 admin shutdown, 57P02 crash shutdown, 57P03
# cannot connect now, 53300 too many connections.
_UNAVAILABLE_SQLSTATE_CLASS = "08"
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})


class DatabaseUnavailable(Exception):
    """The database is away (down, restarting, the connection lost): raised where
    asyncpg alone cannot say so. Not a ``DomainError``: it is no answer to the
    request, so it is never stored under an Idempotency-Key; a retry runs again."""


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached now (rather than that
    the request or the code is wrong), by exception type and SQLSTATE:

    - ``OSError``: refused, reset or timed-out connections (asyncpg raises them
      as they are when it connects, and SQLAlchemy passes them on);
    - SQLAlchemy's pool timing out, or a ``DBAPIError`` on a connection it has
      invalidated (its dialect saw the connection closed: it also drops the
      pool's other connections, so the next requests reconnect);
    - an error carrying one of the SQLSTATEs above, from asyncpg (``sqlstate``)
      or wrapped by SQLAlchemy (``DBAPIError.orig``).
    """
    if isinstance(exc, DatabaseUnavailable | OSError | PoolTimeout):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        if isinstance(exc.orig, OSError):
            return True
        exc = exc.orig if exc.orig is not None else exc
    sqlstate = getattr(exc, "sqlstate", None)
    return isinstance(sqlstate, str) and (
        sqlstate.startswith(_UNAVAILABLE_SQLSTATE_CLASS) or sqlstate in _UNAVAILABLE_SQLSTATES
    )


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    errors: Sequence[FieldError] = (),
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> ProblemDetailsException:
    """Build the problem details every error response of the API is made of."""
    body: dict[str, Any] = {"code": code}
    if errors:
        body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    if extra:
        body.update(extra)
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    return ProblemDetailsException(
        status_code=status,
        type_=f"urn:promo:problem:{code}",
        title=title,
        detail=detail,
        extra=body,
        headers=dict(headers) if headers else None,
    )


def _domain_error(exc: DomainError) -> ProblemDetailsException:
    status = next(s for cls, s in STATUS_OF.items() if isinstance(exc, cls))
    extra = dict(exc.extra)
    headers = None
    if status == 429 and "retry_after" in extra:
        headers = {"Retry-After": str(extra["retry_after"])}
    return problem(
        status, exc.code, exc.title, exc.detail, errors=exc.errors, extra=extra, headers=headers
    )


def render_domain_error(exc: DomainError) -> tuple[int, bytes]:
    """The status and JSON body the error map gives ``exc`` (stored for replays)."""
    details = _domain_error(exc)
    body = {
        "status": details.status_code,
        "type": details.type_,
        "title": details.title,
        "detail": details.detail,
        **(details.extra if isinstance(details.extra, dict) else {}),
    }
    return details.status_code, msgspec.json.encode(body)


class StructFieldError(ValueError):
    """Raised by a Struct's ``__post_init__`` about one of its own fields.

    msgspec locates the error at the Struct (``$.commission``) and chains the
    exception it caught: this type names the field within it, so the problem
    says ``commission.percent`` without anyone reading the message.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# msgspec reports the failing location as "... - at `$.cart.items[0].quantity`".
_AT_PATH = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_UNKNOWN_FIELD = re.compile(r"^Object contains unknown field `(?P<name>[^`]+)`$")
_MISSING_FIELD = re.compile(r"^Object missing required field `(?P<name>[^`]+)`$")
# Litestar decodes the body as the handler's ``data`` argument, so the body's
# paths are ``$.data...`` in the error of its signature model.
_BODY_ARGUMENT = ".data"


def _joined(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _field_error(path: str, message: str, cause: BaseException | None = None) -> FieldError:
    """Name the field exactly, including a field msgspec only names in its
    message (unknown, missing) or a Struct names in a ``StructFieldError``."""
    if isinstance(cause, StructFieldError):
        return FieldError(_joined(path, cause.field), cause.message)
    for pattern, meaning in ((_UNKNOWN_FIELD, "unknown field"), (_MISSING_FIELD, "required")):
        named = pattern.match(message)
        if named:
            return FieldError(_joined(path, named.group("name")), meaning)
    return FieldError(path or "body", message)


def body_error_from_msgspec(error: msgspec.ValidationError) -> FieldError | None:
    """The body's field error in the error of Litestar's signature model, with
    the full path msgspec gives (Litestar's own items keep only the start of the
    message and a path rebuilt from it); None when the error is not the body's."""
    match = _AT_PATH.match(str(error).strip())
    path = match.group("path") if match else None
    inside = (f"{_BODY_ARGUMENT}.", f"{_BODY_ARGUMENT}[")
    if match is None or path is None or not (path == _BODY_ARGUMENT or path.startswith(inside)):
        return None
    within = path[len(_BODY_ARGUMENT) :].lstrip(".")
    return _field_error(within, match.group("message"), error.__cause__)


def decoded_field_error(error: msgspec.ValidationError) -> FieldError:
    """The field error of a document converted on its own (``msgspec.convert``
    of a console form into the API's schema), named as the API names it."""
    match = _AT_PATH.match(str(error).strip())
    if match is None:
        return FieldError("body", str(error))
    path = (match.group("path") or "").lstrip(".")
    return _field_error(path, match.group("message"), error.__cause__)


def _validation_error(exc: ValidationException) -> ProblemDetailsException:
    """Litestar raises this for bodies, query and path parameters it cannot decode.

    Its items carry ``key`` (``data`` for the body as a whole, else the body
    path or the parameter name), ``message`` and ``source``; the body's item is
    replaced by the one read from msgspec's own error (the exception's cause).
    """
    items = [
        item
        for item in (exc.extra if isinstance(exc.extra, list) else [])
        if isinstance(item, dict)
    ]
    cause = exc.__cause__
    body = body_error_from_msgspec(cause) if isinstance(cause, msgspec.ValidationError) else None
    errors: list[FieldError] = []
    for item in items:
        key = str(item.get("key") or "")
        message = str(item.get("message") or exc.detail)
        if key == "data" and message == "'data'":
            return problem(400, "body_required", "Bad request", "A JSON request body is required")
        if body is not None and item.get("source") == "body":
            errors.append(body)
            body = None
            continue
        errors.append(_field_error("" if key == "data" else key, message))
    if not errors:
        return problem(400, "bad_request", "Bad request", str(exc.detail))
    first = errors[0]
    detail = f"{first.field}: {first.message}"
    return problem(422, "validation_failed", "Invalid request", detail, errors=errors)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def _http_error(exc: HTTPException) -> ProblemDetailsException:
    status = exc.status_code
    if status >= 500:
        log.error("server error: %s", exc.detail)
        return problem(500, "internal_error", "Internal error", "Internal server error")
    code = _HTTP_CODES.get(status, "http_error")
    detail = str(exc.detail)
    if isinstance(exc.__cause__, SerializationException):
        code, detail = "malformed_json", f"The request body is not valid JSON ({exc.detail})"
    return problem(status, code, HTTPStatus(status).phrase, detail, headers=exc.headers)


def _undecodable_body(exc: Exception) -> ProblemDetailsException:
    """JSON nested beyond the decoder's depth, or bytes that are not UTF-8."""
    return problem(400, "malformed_json", "Bad Request", "The request body cannot be decoded")


def _database_unavailable(exc: Exception) -> ProblemDetailsException:
    log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
    retry_after = DATABASE_RETRY_AFTER_SECONDS
    return problem(
        503,
        "database_unavailable",
        "Service unavailable",
        "The database cannot be reached; retry shortly",
        extra={"retry_after": retry_after},
        headers={"Retry-After": str(retry_after)},
    )


def _unexpected_error(exc: Exception) -> ProblemDetailsException:
    """Every other exception: a database that is away is 503 with Retry-After
    (its errors come from asyncpg, SQLAlchemy and the OS, with no common base);
    anything else is a bug, 500."""
    if is_database_unavailable(exc):
        return _database_unavailable(exc)
    log.error("unhandled error", exc_info=exc)
    return problem(500, "internal_error", "Internal error", "Internal server error")


PROBLEM_MAP: dict[type[Exception], Callable[[Any], ProblemDetailsException]] = {
    DomainError: _domain_error,
    DatabaseUnavailable: _database_unavailable,
    ValidationException: _validation_error,
    NotAuthorizedException: _http_error,
    PermissionDeniedException: _http_error,
    HTTPException: _http_error,
    RecursionError: _undecodable_body,
    UnicodeDecodeError: _undecodable_body,
    Exception: _unexpected_error,
}


def problem_details_plugin() -> ProblemDetailsPlugin:
    """The single error map of the app, handed to Litestar's problem-details support."""
    return ProblemDetailsPlugin(ProblemDetailsConfig(exception_to_problem_detail_map=PROBLEM_MAP))


def problem_for(exc: Exception) -> ProblemDetailsException:
    """The problem ``exc`` is answered with, by the same map (the console shows
    it as a page: the same status, reason and field errors as the API)."""
    if isinstance(exc, ProblemDetailsException):
        return exc
    for cls in type(exc).__mro__:
        if cls in PROBLEM_MAP:
            return PROBLEM_MAP[cls](exc)
    return _unexpected_error(exc)
