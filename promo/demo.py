"""Demo data: one campaign, one affiliate, a key per role and a console account
per person's role, for a first try.

Only ever seeded into an empty database, so it can never mix with real data.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from decimal import Decimal

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.affiliates.models import Affiliate
from promo.auth.models import ApiKey
from promo.auth.roles import Role
from promo.auth.service import create_key
from promo.campaigns.models import Campaign
from promo.campaigns.schemas import Percentage
from promo.campaigns.stored_discount import discount_columns
from promo.codes.canonical import canonical
from promo.codes.models import Code
from promo.people.models import ConsoleUser
from promo.people.service import create_user


def demo_codes(affiliate_id: int) -> list[tuple[str, int | None]]:
    """A seasonal code and an affiliate's vanity code."""
    return [("SUMMER20", None), ("ANNA10", affiliate_id)]


class DemoData(msgspec.Struct, frozen=True):
    campaign_id: int
    affiliate_id: int
    keys: dict[str, str]
    # Console sign-ins, one per role: role -> (e-mail, password), shown once.
    accounts: dict[str, tuple[str, str]]


DEMO_ACCOUNTS = {
    Role.ADMIN: "admin@example.com",
    Role.MARKETER: "marketer@example.com",
    Role.ACCOUNTANT: "accountant@example.com",
    Role.AFFILIATE: "anna@example.com",
}


async def is_empty(session: AsyncSession) -> bool:
    for model in (Campaign, Affiliate, ApiKey, ConsoleUser):
        if await session.scalar(select(func.count()).select_from(model)):
            return False
    return True


async def seed_demo(session: AsyncSession, *, now: datetime) -> DemoData | None:
    """Seed the demo data, or return None when the database already holds data."""
    if not await is_empty(session):
        return None
    affiliate = Affiliate(
        name="Anna Demo",
        email="anna@example.com",
        email_key="anna@example.com",
        commission_percent=Decimal("10"),
        commission_fixed=0,
        payout_thresholds={"EUR": 5000},
        holding_days=30,
        active=True,
        created_at=now,
        updated_at=now,
    )
    campaign = Campaign(
        name="Summer demo",
        status="active",
        currency="EUR",
        starts_at=now - timedelta(days=1),
        ends_at=now + timedelta(days=90),
        timezone="Europe/Paris",
        code_prefix="SUMMER",
        open_to_affiliates=True,
        **discount_columns(Percentage(percent_off=Decimal("20"), max_discount=5000)),
        rules={
            "min_subtotal": 2000,
            "exclude_skus": ["GIFT-CARD"],
            "include_categories": [],
            "include_skus": [],
            "exclude_categories": [],
            "first_order_only": False,
            "customer_ids": [],
        },
        max_redemptions=1000,
        max_redemptions_per_customer=1,
        budget=2_000_000,
        redemptions_used=0,
        budget_used=0,
        commission_percent=Decimal("10"),
        commission_fixed=0,
        created_at=now,
        updated_at=now,
    )
    session.add_all([affiliate, campaign])
    await session.flush()
    session.add_all(
        [
            Code(
                campaign_id=campaign.id,
                code=text,
                canonical=canonical(text),
                kind="vanity",
                max_redemptions=None,
                used=0,
                active=True,
                live=True,
                affiliate_id=affiliate_id,
                created_at=now,
            )
            for text, affiliate_id in demo_codes(affiliate.id)
        ]
    )
    keys: dict[str, str] = {}
    for role in Role:
        _, plaintext = await create_key(
            session,
            role=role,
            affiliate_id=affiliate.id if role is Role.AFFILIATE else None,
            name=f"demo {role.value}",
            now=now,
        )
        keys[role.value] = plaintext
    accounts: dict[str, tuple[str, str]] = {}
    for role, email in DEMO_ACCOUNTS.items():
        # Random, so that a demo left reachable is not open to anyone who read the README.
        password = secrets.token_urlsafe(12)
        await create_user(
            session,
            email=email,
            role=role,
            affiliate_id=affiliate.id if role is Role.AFFILIATE else None,
            now=now,
            password=password,
        )
        accounts[role.value] = (email, password)
    return DemoData(
        campaign_id=campaign.id, affiliate_id=affiliate.id, keys=keys, accounts=accounts
    )
