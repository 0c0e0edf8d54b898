"""What each role finds in the console's menu, and the notices pages show
after a change (a key in the query string, never free text from it).

Labels are English messages, translated where the template shows them.
"""

from __future__ import annotations

from promo.auth.roles import Role

MARKETER = [
    ("/console/campaigns", "Campaigns"),
    ("/console/affiliates", "Affiliates"),
    ("/console/batches", "Code batches"),
]
AFFILIATE = [
    ("/console/me/codes", "My codes"),
    ("/console/me/sales", "Sales"),
    ("/console/me/earnings", "Earnings"),
]
ACCOUNTANT = [
    ("/console/ledger", "Ledger"),
    ("/console/commissions", "Commissions"),
    ("/console/payouts", "Payouts"),
]
ADMIN = [
    ("/console/keys", "API keys"),
    ("/console/accounts", "Accounts"),
    ("/console/audit", "Audit log"),
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
    "signed_out": "You are signed out.",
    "password_set": "Your password is set. Sign in with it.",
    "saved": "Saved.",
    "created": "Created.",
    "paused": "The campaign is paused.",
    "resumed": "The campaign is active again.",
    "archived": "The campaign is archived; its codes are released.",
    "disabled": "Disabled.",
    "invited": "Invitation created.",
    "deactivated": "The account is deactivated; its sessions have ended.",
    "reactivated": "The account is active again.",
    "revoked": "The key is revoked: requests with it are refused from now on.",
    "payout_done": "Payouts created.",
}


def notice(key: str | None) -> str | None:
    return NOTICES.get(key) if key else None
