"""What Litestar generates for the OpenAPI document, completed where it cannot know.

Litestar documents every error as its own ``400`` (``status_code``/``detail``/
``extra`` as JSON), while every error of this API is an RFC 9457 problem
(``application/problem+json``, promo.errors). ``complete()`` rewrites each
operation's error answers to the ``Problem`` schema and adds the statuses the
API answers by rule, not by handler:

- 400 malformed request, when the operation takes parameters or a body;
- 401 and 403 on every authenticated path (all but /health, /metrics, /schema);
- 404 when the path, a parameter or a body field (``*_id``) names a resource, and
  under /v1/me
  (a key that is not an affiliate's);
- 409 on every operation that changes state;
- 413 (body over PROMO_MAX_BODY_BYTES) and 422 (a field breaks a rule) with a body;
  422 also for parameters;
- 429 with ``Retry-After`` on checkout calls (the attempt budgets).

A body a handler takes as optional (``JSONBody[X | None] = None``: POST
/v1/webhooks/{id}/rotate-secret) is marked not required, as Litestar marks
every body required.

It also gives success answers Litestar cannot describe from a return type:
/metrics is Prometheus text, the ledger export streams CSV or JSON lines,
and the performance report answers CSV as well as JSON.
The served document (``/schema/openapi.json``) and the committed one are both
made by ``complete()``, so they cannot drift apart.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from litestar import Request
from litestar.openapi.plugins import JsonRenderPlugin

from promo.auth.middleware import PUBLIC_PATHS
from promo.errors import PROBLEM_MEDIA_TYPE

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details. Reason-specific members (``retry_after``, "
    "``reason``, ``missing_subtotal``, ...) may follow.",
    "properties": {
        "type": {"type": "string", "description": "urn:promo:problem:<code>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Stable machine-readable reason"},
        "errors": {
            "type": "array",
            "description": "One entry per invalid field",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                "required": ["field", "message"],
            },
        },
    },
    "required": ["type", "title", "status", "detail", "code"],
}

DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing, unknown or revoked API key",
    403: "The key's role may not do this",
    404: "No such resource",
    409: "Conflicts with the current state (the code names why)",
    413: "Request body too large",
    422: "A field breaks a rule (``errors`` names each one)",
    429: "Too many failed attempts; retry after ``Retry-After`` seconds",
}

# Success answers whose media types a return annotation cannot express.
SUCCESS_CONTENT: dict[tuple[str, str], dict[str, Any]] = {
    ("/metrics", "get"): {
        "text/plain": {"schema": {"type": "string", "description": "Prometheus text format"}}
    },
    ("/v1/ledger/export", "get"): {
        "text/csv": {"schema": {"type": "string", "description": "RFC 4180, with a header"}},
        "application/x-ndjson": {
            "schema": {"type": "string", "description": "One JSON object per line"}
        },
    },
}

# Request bodies a handler reads itself, as a stream (no ``data`` to describe).
REQUEST_CONTENT: dict[tuple[str, str], dict[str, Any]] = {
    ("/v1/campaigns/{campaign_id}/code-imports", "post"): {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {
                    "type": "string",
                    "description": "UTF-8 CSV; a header line naming the columns code "
                    "(required) and max_redemptions (optional), then one code per line",
                },
                "example": "code,max_redemptions\nSUMMER-ANNA,1\nWELCOME10,\n",
            }
        },
    },
}

# Success answers that are JSON (as annotated) or, on request, another media type.
ALSO_CONTENT: dict[tuple[str, str], dict[str, Any]] = {
    ("/v1/reports/performance", "get"): {
        "text/csv": {
            "schema": {
                "type": "string",
                "description": "format=csv: RFC 4180, with a header; amounts in major units",
            }
        }
    },
}

CHANGES_STATE = {"post", "put", "patch", "delete"}
METHODS = CHANGES_STATE | {"get", "head", "options"}
_PUBLIC = [re.compile(pattern) for pattern in PUBLIC_PATHS]


def _body_fields(operation: dict[str, Any], schemas: dict[str, Any]) -> set[str]:
    """The top-level field names of the operation's JSON body."""
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        schema = schemas.get(ref.rsplit("/", 1)[1], {})
    return set(schema.get("properties", {}))


def problem_statuses(
    path: str, method: str, operation: dict[str, Any], schemas: dict[str, Any]
) -> list[int]:
    """The error statuses an operation answers, by the rules in the module docstring."""
    statuses: set[int] = set()
    has_body = "requestBody" in operation
    parameters = operation.get("parameters", [])
    fields = {p.get("name", "") for p in parameters} | _body_fields(operation, schemas)
    if has_body or parameters:
        statuses |= {400, 422}
    if has_body:
        statuses.add(413)
    if not any(pattern.match(path) for pattern in _PUBLIC):
        statuses |= {401, 403}
    names_one = "{" in path or any(name.endswith("_id") for name in fields)
    if names_one or path == "/v1/me" or path.startswith("/v1/me/"):
        statuses.add(404)
    if method in CHANGES_STATE:
        statuses.add(409)
    if method == "post" and "checkout" in operation.get("tags", []):
        statuses.add(429)
    return sorted(statuses)


def _problem_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": DESCRIPTIONS[status],
        "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}},
    }
    if status == 429:
        response["headers"] = {
            "Retry-After": {
                "description": "Whole seconds until an attempt is let through again",
                "schema": {"type": "integer", "minimum": 1},
            }
        }
    return response


def _optional_body(operation: dict[str, Any]) -> bool:
    """A JSON body whose schema admits null: the handler takes none as well."""
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    return {"type": "null"} in schema.get("oneOf", [])


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of Litestar's ``document`` with the problems and media types above."""
    document = copy.deepcopy(document)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            if (path, method) in REQUEST_CONTENT:
                operation["requestBody"] = copy.deepcopy(REQUEST_CONTENT[(path, method)])
            responses = operation.setdefault("responses", {})
            for status in [s for s in responses if s.isdigit() and int(s) >= 400]:
                del responses[status]  # Litestar's generic error schema
            for status in problem_statuses(path, method, operation, schemas):
                responses[str(status)] = _problem_response(status)
            if _optional_body(operation):
                operation["requestBody"]["required"] = False
            if (path, method) in SUCCESS_CONTENT:
                success = next(s for s in responses if s.startswith("2"))
                responses[success]["content"] = SUCCESS_CONTENT[(path, method)]
            if (path, method) in ALSO_CONTENT:
                success = next(s for s in responses if s.startswith("2"))
                responses[success].setdefault("content", {}).update(ALSO_CONTENT[(path, method)])
    return document


class CompletedJsonRenderPlugin(JsonRenderPlugin):
    """Serves /schema/openapi.json as ``complete()`` makes it."""

    def __init__(self) -> None:
        super().__init__()
        self._completed: dict[str, Any] | None = None

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        if self._completed is None:
            self._completed = complete(openapi_schema)
        return self.render_json(request, self._completed)
