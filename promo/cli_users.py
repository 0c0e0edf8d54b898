"""`promo users`: console accounts from the command line (invite, create, reset, list, deactivate).

Invitation and reset links are printed once (only their hash is stored) and
point at ``PROMO_PUBLIC_URL``; every change is in the audit log as the CLI.
"""

from __future__ import annotations

import sys

import click
from sqlalchemy.ext.asyncio import AsyncSession

from promo import audit
from promo.auth.roles import Role
from promo.cli import _ensure_schema, _fail, _in_transaction, _settings
from promo.clock import utc_now
from promo.ids import Kind, decode, encode
from promo.people import invitations, service
from promo.people.models import ConsoleUser

ROLES = [role.value for role in service.CONSOLE_ROLES]


@click.group()
def users() -> None:
    """Console accounts (people), separate from API keys."""


def _affiliate_id(affiliate: str | None) -> int | None:
    if affiliate is None:
        return None
    affiliate_id = decode(Kind.AFFILIATE, affiliate)
    if affiliate_id is None:
        _fail(f"no such affiliate: {affiliate}")
    return affiliate_id


_target = invitations.target_of


@users.command("invite")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--affiliate", help="Affiliate id (required for --role affiliate).")
def users_invite(email: str, role: str, affiliate: str | None) -> None:
    """Create an account and print its invitation link (valid 7 days)."""
    settings = _settings()
    _ensure_schema(settings)
    affiliate_id = _affiliate_id(affiliate)

    async def work(session: AsyncSession) -> str:
        invited = await invitations.invite(
            session,
            email=email,
            role=Role(role),
            affiliate_id=affiliate_id,
            who=audit.cli_actor(),
            now=utc_now(),
            base_url=settings.base_url,
        )
        return invited.url

    link = _in_transaction(settings, work)
    click.echo(f"invited {email}; the link works once, for 7 days:", err=True)
    click.echo(link)


@users.command("create")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--affiliate", help="Affiliate id (required for --role affiliate).")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from stdin.")
def users_create(email: str, role: str, affiliate: str | None, password_stdin: bool) -> None:
    """Create an account with a password read from stdin (scripted setups)."""
    settings = _settings()
    _ensure_schema(settings)
    affiliate_id = _affiliate_id(affiliate)
    password = sys.stdin.readline().rstrip("\r\n")

    async def work(session: AsyncSession) -> str:
        now = utc_now()
        user = await service.create_user(
            session,
            email=email,
            role=Role(role),
            affiliate_id=affiliate_id,
            now=now,
            password=password,
        )
        details = {"email": user.email, "role": role, "affiliate_id": affiliate}
        await audit.record(
            session, audit.cli_actor(), "user.create", _target(user), now=now, details=details
        )
        return _target(user)

    click.echo(f"created {role} account {_in_transaction(settings, work)} for {email}")


@users.command("reset")
@click.option("--email", required=True)
def users_reset(email: str) -> None:
    """Print a password reset link (valid 1 hour); earlier links stop working."""
    settings = _settings()
    _ensure_schema(settings)

    async def work(session: AsyncSession) -> str:
        user = await service.user_by_email(session, email)
        sent = await invitations.send_link(
            session, user, who=audit.cli_actor(), now=utc_now(), base_url=settings.base_url
        )
        return sent.url

    link = _in_transaction(settings, work)
    click.echo(f"a link for {email}; it works once:", err=True)
    click.echo(link)


@users.command("list")
def users_list() -> None:
    """List console accounts."""
    settings = _settings()
    _ensure_schema(settings)

    async def work(session: AsyncSession) -> list[ConsoleUser]:
        return await service.list_users(session)

    click.echo(f"{'id':<16} {'role':<11} {'affiliate':<16} {'status':<9} email")
    for user in _in_transaction(settings, work):
        affiliate = encode(Kind.AFFILIATE, user.affiliate_id) if user.affiliate_id else "-"
        status = "active" if user.active else "inactive"
        if user.active and user.password_hash is None:
            status = "invited"
        click.echo(f"{_target(user):<16} {user.role:<11} {affiliate:<16} {status:<9} {user.email}")


@users.command("deactivate")
@click.option("--email", required=True)
def users_deactivate(email: str) -> None:
    """Deactivate an account; its sessions end at once."""
    settings = _settings()
    _ensure_schema(settings)

    async def work(session: AsyncSession) -> str:
        user = await service.user_by_email(session, email)
        await invitations.set_active(session, user, False, who=audit.cli_actor(), now=utc_now())
        return _target(user)

    click.echo(f"deactivated {_in_transaction(settings, work)}")
