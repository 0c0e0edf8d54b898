"""Small builders of rows that tests need as a starting point."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from promo.affiliates.models import Affiliate
from promo.auth.roles import Role
from promo.auth.service import create_key
from promo.campaigns.models import Campaign


async def make_affiliate(
    db: AsyncSession,
    *,
    now: datetime,
    name: str = "Anna",
    active: bool = True,
    email: str | None = None,
) -> Affiliate:
    """An affiliate whose e-mail is ``<name>@example.com`` unless given (e-mails are unique)."""
    email = email or f"{name.lower()}@example.com"
    affiliate = Affiliate(
        name=name,
        email=email,
        email_key=email,
        commission_percent=None,
        commission_fixed=None,
        payout_thresholds={},
        holding_days=30,
        active=active,
        created_at=now,
        updated_at=now,
    )
    db.add(affiliate)
    await db.flush()
    return affiliate


def campaign_row(*, name: str, now: datetime, **fields: Any) -> Campaign:
    """An active 10%-off EUR campaign without rules or limits, not yet added;
    ``fields`` override any column."""
    columns: dict[str, Any] = {
        "name": name,
        "status": "active",
        "currency": "EUR",
        "starts_at": now,
        "ends_at": None,
        "timezone": None,
        "code_prefix": None,
        "open_to_affiliates": False,
        "rules": {},
        "discount_type": "percentage",
        "percent_off": Decimal(10),
        "redemptions_used": 0,
        "budget_used": 0,
        "created_at": now,
        "updated_at": now,
    }
    return Campaign(**(columns | fields))


async def make_key(
    db: AsyncSession, role: Role, *, now: datetime, affiliate_id: int | None = None
) -> str:
    if role is Role.AFFILIATE and affiliate_id is None:
        # Its own address, so that tests can still make "Anna" (anna@example.com).
        unique = f"key.holder.{uuid.uuid4().hex[:12]}@example.com"
        affiliate_id = (await make_affiliate(db, now=now, name="Key holder", email=unique)).id
    _, plaintext = await create_key(
        db, role=role, affiliate_id=affiliate_id, name=f"test {role}", now=now
    )
    await db.flush()
    return plaintext


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
