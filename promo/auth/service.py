"""Creating, listing, revoking and checking API keys. No HTTP here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.affiliates.models import Affiliate
from promo.auth.keys import display_prefix, generate_key, hash_key, hashes_match
from promo.auth.models import ApiKey
from promo.auth.roles import Principal, Role
from promo.db.autocommit import Autocommit
from promo.errors import Invalid, NotFound


async def require_active_affiliate(session: AsyncSession, affiliate_id: int) -> Affiliate:
    """The affiliate a key or a console account is bound to: it exists and is active."""
    affiliate = await session.get(Affiliate, affiliate_id)
    if affiliate is None:
        raise NotFound("affiliate_not_found", "No such affiliate")
    if not affiliate.active:
        raise Invalid.field("affiliate_id", "the affiliate is inactive", "affiliate_inactive")
    return affiliate


async def create_key(
    session: AsyncSession,
    *,
    role: Role,
    affiliate_id: int | None,
    name: str,
    now: datetime,
) -> tuple[ApiKey, str]:
    """Store a new key; the plaintext is returned once and never stored."""
    if role is Role.AFFILIATE:
        if affiliate_id is None:
            raise Invalid.field("affiliate_id", "required for the affiliate role")
        await require_active_affiliate(session, affiliate_id)
    elif affiliate_id is not None:
        raise Invalid.field("affiliate_id", "only keys with the affiliate role have one")
    plaintext = generate_key()
    key = ApiKey(
        role=role.value,
        affiliate_id=affiliate_id,
        name=name,
        prefix=display_prefix(plaintext),
        secret_hash=hash_key(plaintext),
        created_at=now,
        revoked_at=None,
    )
    session.add(key)
    await session.flush()
    return key, plaintext


async def list_keys(session: AsyncSession, *, after_id: int | None, limit: int) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.id).limit(limit)
    if after_id is not None:
        query = query.where(ApiKey.id > after_id)
    return list((await session.scalars(query)).all())


async def revoke_key(session: AsyncSession, key_id: int, *, now: datetime) -> ApiKey:
    """Revoke a key; revoking an already revoked key keeps its first revocation time."""
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFound("key_not_found", "No such API key")
    if key.revoked_at is None:
        key.revoked_at = now
        await session.flush()
    return key


async def revoke_key_by_prefix(session: AsyncSession, prefix: str, *, now: datetime) -> ApiKey:
    """The CLI lets operators name a key by the prefix `keys list` shows."""
    keys = (await session.scalars(select(ApiKey).where(ApiKey.prefix == prefix))).all()
    if len(keys) != 1:
        raise NotFound("key_not_found", f"No single API key with prefix {prefix!r}")
    return await revoke_key(session, keys[0].id, now=now)


# Built once: see promo.checkout.offers on why the hot paths reuse statements.
LIVE_KEY = (
    select(ApiKey.id, ApiKey.role, ApiKey.affiliate_id, ApiKey.secret_hash)
    .outerjoin(Affiliate, Affiliate.id == ApiKey.affiliate_id)
    .where(
        ApiKey.secret_hash == bindparam("secret_hash"),
        ApiKey.revoked_at.is_(None),
        (ApiKey.affiliate_id.is_(None)) | (Affiliate.active.is_(True)),
    )
)


async def authenticate(reads: Autocommit, plaintext: str) -> Principal | None:
    """The principal of a live key, or None (unknown, revoked, or inactive affiliate).

    Read on every request, uncached, so a revocation takes effect at once on
    every worker and host.
    """
    row = await reads.first(LIVE_KEY, {"secret_hash": hash_key(plaintext)})
    if row is None or not hashes_match(row["secret_hash"], plaintext):
        return None
    return Principal(key_id=row["id"], role=Role(row["role"]), affiliate_id=row["affiliate_id"])
