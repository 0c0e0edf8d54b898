"""The five roles of API.md and what each may do is decided by route guards."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MARKETER = "marketer"
    CHECKOUT = "checkout"
    AFFILIATE = "affiliate"
    ACCOUNTANT = "accountant"
