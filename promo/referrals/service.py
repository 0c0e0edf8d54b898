"""Enrolling referrers: one personal code per program and referrer, the same every time.

The referrer is known by the refs of its identity (promo.identity, promo.pii):
found again under any of its refs, retired keys' included, so a key rotation
does not give it a second code. Its code is derived like an affiliate's
dedicated code (promo.codes.dedicated) and carries the referrer's refs, which
the checkout compares with the friend's (``self_referral``). Two first
requests racing make one referrer (the unique index judges) and one code.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.campaigns.models import Campaign
from promo.checkout.validation import identity_or_invalid
from promo.codes.dedicated import MAX_ATTEMPTS, derive_referral_code, derived_form
from promo.codes.models import Code
from promo.codes.service import insert_code
from promo.db import dialect
from promo.errors import Conflict, Invalid
from promo.identity import Identity
from promo.ids import Kind, decode
from promo.pii import Keyring
from promo.referrals.models import Referrer
from promo.referrals.schemas import ReferralCreate


async def program(session: AsyncSession, public_id: str) -> Campaign:
    """The referral campaign ``public_id`` names; 422 naming ``campaign_id`` otherwise."""
    key = decode(Kind.CAMPAIGN, public_id)
    campaign = await session.get(Campaign, key) if key is not None else None
    if campaign is None or campaign.kind != "referral":
        raise Invalid.field("campaign_id", "no referral campaign has this id")
    return campaign


def _refs(identity: Identity) -> list[str]:
    return [ref for ref in (identity.primary, *identity.primary_prior) if ref is not None]


async def find(session: AsyncSession, campaign_id: int, refs: Sequence[str]) -> Referrer | None:
    query = select(Referrer).where(
        Referrer.campaign_id == campaign_id, Referrer.customer_ref.in_(list(refs))
    )
    return (await session.scalars(query.limit(1))).first()


async def _code(
    session: AsyncSession, secret: str, campaign: Campaign, referrer: Referrer, now: datetime
) -> Code:
    for attempt in range(MAX_ATTEMPTS):
        text = derive_referral_code(secret, campaign.code_prefix, campaign.id, referrer.id, attempt)
        code = await insert_code(
            session,
            campaign_id=campaign.id,
            text=text,
            form=derived_form(text, "referral_code_unavailable"),
            kind="referral",
            max_redemptions=None,
            affiliate_id=None,
            now=now,
        )
        if code is not None:
            code.referrer_ref = referrer.customer_ref
            code.referrer_alt_ref = referrer.customer_alt_ref
            referrer.code_id = code.id
            await session.flush()
            return code
    raise Conflict("referral_code_unavailable", f"No free code after {MAX_ATTEMPTS} derivations")


async def enroll(
    session: AsyncSession,
    data: ReferralCreate,
    *,
    keyring: Keyring,
    secret: str,
    now: datetime,
) -> tuple[Referrer, Code, bool]:
    """The referrer's code on the program (made on first request): (referrer,
    code, whether it was made now)."""
    identity = identity_or_invalid(keyring, data.customer_id, data.customer_email)
    if identity.primary is None:
        raise Invalid.field("customer_id", "name the referrer by customer_id or customer_email")
    campaign = await program(session, data.campaign_id)
    if campaign.status == "archived":
        raise Conflict("campaign_archived", "An archived campaign gets no new referrers")
    refs = _refs(identity)
    existing = await find(session, campaign.id, refs)
    if existing is None:
        inserted = await session.scalar(
            dialect.insert(session, Referrer)
            .values(
                campaign_id=campaign.id,
                customer_ref=identity.primary,
                customer_alt_ref=identity.secondary,
                rewards=0,
                created_at=now,
            )
            .on_conflict_do_nothing()
            .returning(Referrer.id)
        )
        if inserted is not None:
            referrer = await session.get(Referrer, inserted)
            assert referrer is not None  # noqa: S101 (just inserted)
            return referrer, await _code(session, secret, campaign, referrer, now), True
        existing = await find(session, campaign.id, refs)  # a concurrent first request won
        assert existing is not None  # noqa: S101 (the unique index refused ours for it)
    code = await session.get(Code, existing.code_id)
    assert code is not None  # noqa: S101 (made with the referrer)
    return existing, code, False
