"""The admin's pages: API keys, console accounts and their links; and the
marketers' invitation of a person for an affiliate.

Keys go through the API's own functions (``promo.auth.routes.create``,
``revoke``, ``key_page``), accounts through the ones `promo users` calls
(``promo.people.invitations``), so the rules and the audit lines are theirs.
A secret (a key, a link) is shown once, on the page answering the POST that
made it: never in a redirect, a query string or a log.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from promo.affiliates.service import get_affiliate
from promo.auth import routes as key_routes
from promo.auth.roles import Role
from promo.auth.schemas import KeyCreate
from promo.console import forms
from promo.console.rendering import page
from promo.deps import Caller, ClockDep, DbSession
from promo.errors import DomainError, Invalid, problem_for
from promo.ids import Kind, decode, encode, require
from promo.people import invitations, service
from promo.people.models import ConsoleUser
from promo.settings import Settings

ADMINS = {"roles": (Role.ADMIN,)}
# Admins are let in too (promo.console.access).
MARKETERS = {"roles": (Role.MARKETER,)}
PAGE_SIZE = 50
KEY_ROLES = [role.value for role in Role]
ACCOUNT_ROLES = [role.value for role in service.CONSOLE_ROLES]
# Refusals that name no field but are about one: shown beside it.
FIELD_OF_CODE = {"affiliate_not_found": "affiliate_id", "account_exists": "email"}


async def _form_data(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {key: str(value).strip() for key, value in (await request.form()).items()}


def _errors(exc: DomainError) -> dict[str, str]:
    field = FIELD_OF_CODE.get(exc.code)
    if field and not exc.errors:
        return {field: exc.detail}
    return forms.errors_of(exc)


def _status(exc: DomainError) -> int:
    """The status the API answers the same refusal with."""
    return problem_for(exc).status_code


def _base_url(request: Request[Any, Any, Any]) -> str:
    settings: Settings = request.app.state.settings
    return settings.base_url


def _affiliate(form: dict[str, str]) -> int | None:
    """The affiliate id typed in the form (``aff_...``), or None when blank."""
    text = form.get("affiliate_id", "")
    if not text:
        return None
    affiliate_id = decode(Kind.AFFILIATE, text)
    if affiliate_id is None:
        raise forms.FormErrors({"affiliate_id": "is not an affiliate id (aff_...)"})
    return affiliate_id


# API keys


async def _keys_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    cursor: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response[str]:
    keys = await key_routes.key_page(session, cursor=cursor, limit=PAGE_SIZE)
    more = keys.next_cursor
    return page(
        request,
        "admin/keys.html",
        status_code=status_code,
        keys=keys.items,
        roles=KEY_ROLES,
        next_url=f"/console/keys?cursor={more}" if more else None,
        **context,
    )


@get("/keys", opt=ADMINS)
async def key_list(
    request: Request[Any, Any, Any], session: DbSession, cursor: FromQuery[str | None] = None
) -> Response[str]:
    return await _keys_page(request, session, cursor, form={"role": "checkout"})


@post("/keys", opt=ADMINS)
async def key_create(
    request: Request[Any, Any, Any], session: DbSession, clock: ClockDep, principal: Caller
) -> Response[str]:
    """The new key is on this page and nowhere else: it is never shown again."""
    form = await _form_data(request)
    document: dict[str, Any] = {"role": form.get("role", ""), "name": form.get("name", "")}
    if form.get("affiliate_id"):
        document["affiliate_id"] = form["affiliate_id"]
    try:
        data = forms.convert(document, KeyCreate)
        created = await key_routes.create(session, data, principal=principal, now=clock())
    except DomainError as exc:
        return await _keys_page(
            request, session, status_code=_status(exc), form=form, errors=_errors(exc)
        )
    return page(request, "admin/key_created.html", status_code=201, key=created)


@post("/keys/{key_id:str}/revoke", opt=ADMINS)
async def key_revoke(
    key_id: FromPath[str], session: DbSession, clock: ClockDep, principal: Caller
) -> Redirect:
    await key_routes.revoke(session, key_id, principal=principal, now=clock())
    return Redirect("/console/keys?notice=revoked")


# Console accounts


def _account_row(user: ConsoleUser) -> dict[str, Any]:
    status = "inactive"
    if user.active:
        status = "invited" if user.password_hash is None else "active"
    return {
        "id": encode(Kind.CONSOLE_USER, user.id),
        "user_id": user.id,
        "email": user.email,
        "role": user.role,
        "affiliate_id": encode(Kind.AFFILIATE, user.affiliate_id) if user.affiliate_id else None,
        "active": user.active,
        "status": status,
        "created_at": user.created_at,
    }


async def _accounts_page(
    request: Request[Any, Any, Any], session: DbSession, status_code: int = 200, **context: Any
) -> Response[str]:
    users = await service.list_users(session)
    return page(
        request,
        "admin/accounts.html",
        status_code=status_code,
        accounts=[_account_row(user) for user in users],
        roles=ACCOUNT_ROLES,
        **context,
    )


async def _account(session: DbSession, user_id: str) -> ConsoleUser:
    return await service.get_user(session, require(Kind.CONSOLE_USER, user_id))


@get("/accounts", opt=ADMINS)
async def account_list(request: Request[Any, Any, Any], session: DbSession) -> Response[str]:
    return await _accounts_page(request, session, form={"role": "marketer"})


@post("/accounts", opt=ADMINS)
async def account_invite(
    request: Request[Any, Any, Any], session: DbSession, clock: ClockDep, principal: Caller
) -> Response[str]:
    """Create the account and show its invitation link, this once."""
    form = await _form_data(request)
    try:
        role = form.get("role", "")
        if role not in ACCOUNT_ROLES:
            raise Invalid.field("role", f"must be one of {', '.join(ACCOUNT_ROLES)}")
        invited = await invitations.invite(
            session,
            email=form.get("email", ""),
            role=Role(role),
            affiliate_id=_affiliate(form),
            who=principal,
            now=clock(),
            base_url=_base_url(request),
        )
    except DomainError as exc:
        return await _accounts_page(
            request, session, status_code=_status(exc), form=form, errors=_errors(exc)
        )
    return page(request, "admin/link.html", status_code=201, link=invited, back="/console/accounts")


@post("/accounts/{user_id:str}/link", opt=ADMINS)
async def account_link(
    request: Request[Any, Any, Any],
    user_id: FromPath[str],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
) -> Response[str]:
    """A password reset link (a new invitation if no password was ever set)."""
    user = await _account(session, user_id)
    try:
        sent = await invitations.send_link(
            session, user, who=principal, now=clock(), base_url=_base_url(request)
        )
    except DomainError as exc:
        return await _accounts_page(
            request, session, status_code=_status(exc), errors=forms.errors_of(exc)
        )
    return page(request, "admin/link.html", link=sent, back="/console/accounts")


@post("/accounts/{user_id:str}/active", opt=ADMINS)
async def account_active(
    request: Request[Any, Any, Any],
    user_id: FromPath[str],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
) -> Response[Any]:
    """Deactivate (its sessions end at once) or reactivate; never one's own account."""
    form = await _form_data(request)
    user = await _account(session, user_id)
    try:
        if form.get("active") not in ("true", "false"):
            raise forms.FormErrors({"active": "must be true or false"})
        active = form["active"] == "true"
        await invitations.set_active(session, user, active, who=principal, now=clock())
    except DomainError as exc:
        return await _accounts_page(
            request, session, status_code=_status(exc), errors=forms.errors_of(exc)
        )
    return Redirect(f"/console/accounts?notice={'reactivated' if active else 'deactivated'}")


# A marketer invites a person for an affiliate (the affiliate's pages link here).


async def _affiliate_invite_form(
    request: Request[Any, Any, Any],
    session: DbSession,
    affiliate_id: str,
    status_code: int = 200,
    **context: Any,
) -> Response[str]:
    affiliate = await get_affiliate(session, decode(Kind.AFFILIATE, affiliate_id))
    return page(
        request,
        "admin/affiliate_invite.html",
        status_code=status_code,
        affiliate_id=affiliate_id,
        affiliate_name=affiliate.name,
        **context,
    )


@get("/affiliates/{affiliate_id:str}/invite", opt=MARKETERS)
async def affiliate_invite_form(
    request: Request[Any, Any, Any], affiliate_id: FromPath[str], session: DbSession
) -> Response[str]:
    return await _affiliate_invite_form(request, session, affiliate_id)


@post("/affiliates/{affiliate_id:str}/invite", opt=MARKETERS)
async def affiliate_invite(
    request: Request[Any, Any, Any],
    affiliate_id: FromPath[str],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
) -> Response[str]:
    """An affiliate-role account bound to this affiliate; its link shown once."""
    form = await _form_data(request)
    bound = require(Kind.AFFILIATE, affiliate_id)
    try:
        invited = await invitations.invite(
            session,
            email=form.get("email", ""),
            role=Role.AFFILIATE,
            affiliate_id=bound,
            who=principal,
            now=clock(),
            base_url=_base_url(request),
        )
    except DomainError as exc:
        if exc.code == "affiliate_not_found":
            raise
        return await _affiliate_invite_form(
            request,
            session,
            affiliate_id,
            status_code=_status(exc),
            form=form,
            errors=_errors(exc),
        )
    back = f"/console/affiliates/{affiliate_id}"
    return page(request, "admin/link.html", status_code=201, link=invited, back=back)


HANDLERS: list[Any] = [
    key_list,
    key_create,
    key_revoke,
    account_list,
    account_invite,
    account_link,
    account_active,
    affiliate_invite_form,
    affiliate_invite,
]
