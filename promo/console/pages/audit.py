"""The admin's audit log page: the entries of GET /v1/audit, newest first,
with the same filters (``promo.audit_routes.audit_page``), cursor paging, and
who acted by name: an API key's id, a console account's e-mail, the CLI's OS user.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get

from promo import audit
from promo.audit_routes import AuditRead, audit_page, filters_of
from promo.auth.roles import Role
from promo.console import forms
from promo.console.forms import Field
from promo.console.rendering import language_of, page
from promo.deps import DbSession
from promo.errors import DomainError, problem_for
from promo.ids import Kind, decode
from promo.people import service

ADMINS = {"roles": (Role.ADMIN,)}
PAGE_SIZE = 50
ROLES = [role.value for role in Role]
FILTERS = ("action", "actor", "role", "target", "from", "to")
# Typed in the page as a date and time in UTC (a datetime-local field).
INSTANTS = [Field("from", "instant"), Field("to", "instant")]


def _choice(form: dict[str, str], name: str, allowed: tuple[str, ...] | list[str]) -> str | None:
    value = form.get(name) or None
    if value is not None and value not in allowed:
        raise forms.FormErrors({name: f"must be one of {', '.join(allowed)}"})
    return value


async def _who(session: DbSession, items: list[AuditRead]) -> dict[int, str]:
    """Who acted, per entry: the console account's e-mail, the key's id or the CLI."""
    accounts = {decode(Kind.CONSOLE_USER, e.user_id) for e in items if e.user_id}
    emails = await service.emails_of(session, {a for a in accounts if a is not None})
    who: dict[int, str] = {}
    for entry in items:
        if entry.user_id:
            user = decode(Kind.CONSOLE_USER, entry.user_id)
            who[entry.id] = emails.get(user, entry.user_id) if user is not None else entry.user_id
        elif entry.key_id:
            who[entry.id] = entry.key_id
        else:
            who[entry.id] = entry.actor
    return who


@get("/audit", opt=ADMINS)
async def audit_list(request: Request[Any, Any, Any], session: DbSession) -> Response[str]:
    form = {name: str(request.query_params.get(name, "")).strip() for name in FILTERS}
    cursor = request.query_params.get("cursor") or None
    try:
        instants = forms.read(form, INSTANTS, language=language_of(request))
        filters = filters_of(
            action=form["action"] or None,
            actor=_choice(form, "actor", audit.ACTORS),
            role=_choice(form, "role", ROLES),
            target=form["target"] or None,
            start=instants.get("from"),
            end=instants.get("to"),
        )
        entries = await audit_page(session, filters, cursor=cursor, limit=PAGE_SIZE, order="desc")
    except DomainError as exc:
        return page(
            request,
            "admin/audit.html",
            status_code=problem_for(exc).status_code,
            entries=[],
            who={},
            details={},
            actors=audit.ACTORS,
            roles=ROLES,
            form=form,
            errors=forms.errors_of(exc),
            next_url=None,
        )
    chosen = {name: value for name, value in form.items() if value}
    more = entries.next_cursor
    return page(
        request,
        "admin/audit.html",
        entries=entries.items,
        who=await _who(session, entries.items),
        details={
            e.id: json.dumps(e.details, indent=2, sort_keys=True, ensure_ascii=False)
            for e in entries.items
            if e.details
        },
        actors=audit.ACTORS,
        roles=ROLES,
        form=form,
        next_url=f"/console/audit?{urlencode({**chosen, 'cursor': more})}" if more else None,
    )


HANDLERS: list[Any] = [audit_list]
