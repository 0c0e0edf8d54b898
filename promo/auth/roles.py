"""The five roles of API.md and what each may do is decided by route guards."""

from __future__ import annotations

from enum import StrEnum

import msgspec


class Role(StrEnum):
    ADMIN = "admin"
    MARKETER = "marketer"
    CHECKOUT = "checkout"
    AFFILIATE = "affiliate"
    ACCOUNTANT = "accountant"


class Principal(msgspec.Struct, frozen=True):
    """Who is calling: an API key (its id) or a console account (its id), its
    role and, for affiliates, which one."""

    key_id: int | None
    role: Role
    affiliate_id: int | None = None
    user_id: int | None = None
