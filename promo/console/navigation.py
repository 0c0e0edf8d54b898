"""What each role finds in the console's menu, and the notices pages show
after a change (a key in the query string, never free text from it).

Labels are English messages, translated where the template shows them.
"""

from __future__ import annotations

from promo.auth.roles import Role
from promo.console.i18n import N_

MARKETER = [
    ("/console/campaigns", N_("Campaigns")),
    ("/console/affiliates", N_("Affiliates")),
    ("/console/plans", N_("Commission plans")),
    ("/console/conversions", N_("Conversions")),
]
AFFILIATE = [
    ("/console/me/codes", N_("My codes")),
    ("/console/me/sales", N_("Sales")),
    ("/console/me/earnings", N_("Earnings")),
    ("/console/me/conversions", N_("Conversions")),
]
ACCOUNTANT = [
    ("/console/ledger", N_("Ledger")),
    ("/console/commissions", N_("Commissions")),
    ("/console/payouts", N_("Payouts")),
]
ADMIN = [
    ("/console/keys", N_("API keys")),
    ("/console/accounts", N_("Accounts")),
    ("/console/audit", N_("Audit log")),
]

MENUS: dict[Role, list[tuple[str, str]]] = {
    Role.MARKETER: MARKETER,
    Role.AFFILIATE: AFFILIATE,
    Role.ACCOUNTANT: ACCOUNTANT,
    Role.ADMIN: [*MARKETER, *ACCOUNTANT, *ADMIN],
}

HOME: dict[Role, str] = {
    Role.MARKETER: "/console/campaigns",
    Role.AFFILIATE: "/console/me/codes",
    Role.ACCOUNTANT: "/console/ledger",
    Role.ADMIN: "/console/campaigns",
}


def menu(role: Role | None) -> list[tuple[str, str]]:
    return MENUS.get(role, []) if role is not None else []


def home(role: Role) -> str:
    return HOME.get(role, "/console/account")


NOTICES = {
    "signed_out": N_("You are signed out."),
    "password_set": N_("Your password is set. Sign in with it."),
    "saved": N_("Saved."),
    "created": N_("Created."),
    "paused": N_("The campaign is paused."),
    "resumed": N_("The campaign is active again."),
    "archived": N_("The campaign is archived; its codes are released."),
    "disabled": N_("Disabled."),
    "invited": N_("Invitation created."),
    "deactivated": N_("The account is deactivated; its sessions have ended."),
    "payout_done": N_("Payouts created."),
    "code_ready": N_("Your code is ready: copy it and share it."),
    "reactivated": N_("The account is active again."),
    "revoked": N_("The key is revoked: requests with it are refused from now on."),
    "payout_none": N_("Nothing was due: no payout was made."),
    "rejected": N_("The conversion is rejected: its commission is reversed."),
}


def notice(key: str | None) -> str | None:
    return NOTICES.get(key) if key else None
