"""Affiliates' dedicated codes: one per affiliate and campaign, derived with hashids.

A dedicated code is public by design: the affiliate broadcasts it (a story, a
podcast), so nothing here is about secrecy. hashids gives what matters
instead: short, readable codes (``SUMMER-K7Q2XM``) that are unique per
(campaign, affiliate) and stable, so asking again always yields the same one.
The alphabet holds only canonical characters that cannot be misread (no 0, O,
1, I, L), so a derived code's canonical form is the code without its dash.

The hashids salt is an HMAC of ``PROMO_SECRET`` rather than the secret itself:
hashids is not a cipher and its salt can be inferred from enough codes, so
the secret must never be exposed through it. Changing the secret changes the
codes derived afterwards (existing rows keep theirs).

Concurrency: the partial unique index ``uq_codes_dedicated`` admits one
dedicated row per (campaign, affiliate); the insert goes through ``ON CONFLICT
DO NOTHING``, and a refused insert reads the winner. When the derived code's
canonical form is taken by another live code, a counter joins the numbers
until a free form is found.

Aliases (``ANNA10``-style extra codes) are the affiliate's own choice of
text, so they are fenced in: off unless the campaign has ``affiliate_aliases``;
then they begin with the campaign's ``code_prefix`` (on the canonical form),
stay outside the space of every live batch pattern (an alias there would read
as one of a batch's guess-resistant codes, or take one of its codes), and
count against ``max_aliases_per_affiliate`` for the campaign. Concurrent
requests of one affiliate for one campaign are serialised (an advisory lock
on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) so that they cannot both pass the
limit.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from hashids import Hashids
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from promo.affiliates.service import get_affiliate
from promo.campaigns.models import Campaign
from promo.campaigns.service import get_campaign
from promo.codes.canonical import InvalidCode, canonical
from promo.codes.models import Code, CodeBatch
from promo.codes.patterns import canonical_pattern, matcher, parse_charset, parse_pattern
from promo.codes.service import canonical_or_invalid, channel_label, insert_code
from promo.errors import Conflict, Forbidden, Invalid

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
"""Upper-case letters and digits that are their own canonical form and cannot be misread."""
MIN_HASH_LENGTH = 6
# A counter past a handful means something else is wrong (a flood of vanity
# codes shadowing one affiliate's forms); stop with a clear error.
MAX_ATTEMPTS = 64
_SALT_CONTEXT = b"promo:dedicated-codes:v1"
# Advisory lock namespace (PostgreSQL) of "aliases of one affiliate in one campaign".
ALIAS_LOCK_NAMESPACE = 0xA11A5


def salt_from_secret(secret: str) -> str:
    """The hashids salt: derived from the secret so that the secret itself never leaks."""
    return hmac.new(secret.encode(), _SALT_CONTEXT, hashlib.sha256).hexdigest()


@lru_cache(maxsize=8)
def _hashids(secret: str) -> Hashids:
    return Hashids(salt=salt_from_secret(secret), min_length=MIN_HASH_LENGTH, alphabet=ALPHABET)


def derive_code(
    secret: str, prefix: str | None, campaign_id: int, affiliate_id: int, attempt: int = 0
) -> str:
    """The display form of the affiliate's code: ``<prefix>-<hash>``, or the hash alone.

    Attempt 0 hashes (campaign, affiliate); a later attempt hashes
    (campaign, affiliate, attempt), so every attempt gives a different code.
    """
    numbers = (campaign_id, affiliate_id) if attempt == 0 else (campaign_id, affiliate_id, attempt)
    body: str = _hashids(secret).encode(*numbers)
    return f"{prefix.upper()}-{body}" if prefix else body


def derive_referral_code(
    secret: str, prefix: str | None, campaign_id: int, referrer_id: int, attempt: int = 0
) -> str:
    """A referrer's personal code (promo.referrals), from the same hashids as the
    affiliates' codes: (campaign, referrer, 0[, attempt]), a tuple no dedicated
    code hashes (theirs are pairs, or triples with an attempt from 1)."""
    numbers = (campaign_id, referrer_id, 0) + ((attempt,) if attempt else ())
    body: str = _hashids(secret).encode(*numbers)
    return f"{prefix.upper()}-{body}" if prefix else body


def derived_form(text: str, refusal: str) -> str:
    """The canonical form of a derived code; 409 ``refusal`` when the prefix makes
    it longer than a code may be."""
    try:
        return canonical(text)
    except InvalidCode:
        raise Conflict(
            refusal,
            f"The derived code {text} is longer than a code may be; shorten the code prefix",
        ) from None


@dataclass(frozen=True)
class Grant:
    """What a request for a dedicated code yields; ``created`` if it stored any code,
    ``alias_created`` if the alias is new."""

    code: Code
    alias: Code | None
    created: bool
    alias_created: bool = False


async def grant_dedicated_code(
    session: AsyncSession,
    *,
    secret: str,
    affiliate_id: int,
    campaign_id: int | None,
    alias: str | None,
    self_service: bool,
    now: datetime,
    channel: str | None = None,
) -> Grant:
    """The affiliate's code for the campaign (created on first request), plus an alias if asked.

    ``self_service`` (the affiliate asking for itself) also requires the
    campaign to be open to affiliates and out of draft. ``channel``, when
    given, labels the alias if one is asked for, else the dedicated code.
    """
    alias_form = canonical_or_invalid(alias, "alias") if alias is not None else None
    campaign = await get_campaign(session, campaign_id)
    if campaign.status == "archived":
        raise Conflict("campaign_archived", "An archived campaign gets no new codes")
    if self_service and (not campaign.open_to_affiliates or campaign.status == "draft"):
        raise Forbidden("campaign_not_open", "This campaign does not hand out codes to affiliates")
    affiliate = await get_affiliate(session, affiliate_id)
    if not affiliate.active:
        raise Conflict("affiliate_inactive", "An inactive affiliate gets no codes")
    if alias_form is not None:
        await _check_alias(session, campaign, alias_form)
    code, created = await _dedicated(session, secret, campaign, affiliate.id, now)
    alias_code, alias_created = None, False
    if alias is not None and alias_form is not None:
        alias_code, alias_created = await _alias(
            session, campaign, affiliate.id, text=alias, form=alias_form, now=now
        )
    if channel is not None:
        (alias_code or code).channel = channel_label(channel)
        await session.flush()
    return Grant(
        code=code,
        alias=alias_code,
        created=created or alias_created,
        alias_created=alias_created,
    )


async def _find_dedicated(
    session: AsyncSession, campaign_id: int, affiliate_id: int
) -> Code | None:
    return await session.scalar(
        select(Code).where(
            Code.campaign_id == campaign_id,
            Code.affiliate_id == affiliate_id,
            Code.kind == "dedicated",
        )
    )


async def _dedicated(
    session: AsyncSession, secret: str, campaign: Campaign, affiliate_id: int, now: datetime
) -> tuple[Code, bool]:
    existing = await _find_dedicated(session, campaign.id, affiliate_id)
    if existing is not None:
        return existing, False
    for attempt in range(MAX_ATTEMPTS):
        text = derive_code(secret, campaign.code_prefix, campaign.id, affiliate_id, attempt)
        form = derived_form(text, "dedicated_code_unavailable")
        code = await insert_code(
            session,
            campaign_id=campaign.id,
            text=text,
            form=form,
            kind="dedicated",
            max_redemptions=None,
            affiliate_id=affiliate_id,
            now=now,
        )
        if code is not None:
            return code, True
        # Refused: either a concurrent first request won (its row is committed
        # by now, and this statement sees it), or another live code holds the
        # canonical form and the next attempt derives another.
        winner = await _find_dedicated(session, campaign.id, affiliate_id)
        if winner is not None:
            return winner, False
    raise Conflict(
        "dedicated_code_unavailable",
        f"No free dedicated code after {MAX_ATTEMPTS} derivations",
    )


async def _check_alias(session: AsyncSession, campaign: Campaign, form: str) -> None:
    """What the campaign allows of an alias, before anything is written."""
    if not campaign.affiliate_aliases:
        raise Conflict(
            "aliases_not_allowed",
            "This campaign takes no aliases (its affiliate_aliases is false)",
        )
    # The prefix's canonical form (letters and digits only, so no slot in it).
    prefix = canonical_pattern(campaign.code_prefix or "")
    if not (form.startswith(prefix) and len(form) > len(prefix)):
        raise Invalid.field(
            "alias",
            f"must begin with the campaign's code prefix {campaign.code_prefix} and go on after it",
            "alias_prefix_mismatch",
        )
    if await _in_a_batch_space(session, form):
        raise Invalid.field(
            "alias",
            "reads like a code of a generated batch of codes; choose another",
            "alias_in_batch_space",
        )


async def _in_a_batch_space(session: AsyncSession, form: str) -> bool:
    """Whether ``form`` is one of the codes some live batch pattern can produce.

    Live: the batch's campaign is not archived (archived campaigns release
    their codes). A pattern's codes are as long as its canonical form.
    """
    patterns = await session.execute(
        select(CodeBatch.pattern, CodeBatch.charset)
        .join(Campaign, Campaign.id == CodeBatch.campaign_id)
        .where(Campaign.status != "archived", func.length(CodeBatch.pattern) == len(form))
        .distinct()
    )
    return any(
        matcher(parse_pattern(pattern, parse_charset(charset))).fullmatch(form)
        for pattern, charset in patterns
    )


async def _lock_aliases(session: AsyncSession, campaign_id: int, affiliate_id: int) -> None:
    """Serialise alias requests of one affiliate and campaign until commit."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:key))"),
            {"namespace": ALIAS_LOCK_NAMESPACE, "key": f"{campaign_id}:{affiliate_id}"},
        )


async def _alias(
    session: AsyncSession,
    campaign: Campaign,
    affiliate_id: int,
    *,
    text: str,
    form: str,
    now: datetime,
) -> tuple[Code, bool]:
    """An extra code for the same affiliate and campaign; the same alias again is no conflict."""
    await _lock_aliases(session, campaign.id, affiliate_id)
    mine = (
        Code.kind == "alias",
        Code.campaign_id == campaign.id,
        Code.affiliate_id == affiliate_id,
    )
    held = await session.scalar(select(Code).where(*mine, Code.canonical == form, Code.live))
    if held is not None:
        return held, False
    count = await session.scalar(select(func.count()).select_from(Code).where(*mine, Code.live))
    if (count or 0) >= campaign.max_aliases_per_affiliate:
        raise Conflict(
            "alias_limit_reached",
            f"An affiliate may hold {campaign.max_aliases_per_affiliate} alias(es) "
            "in this campaign (max_aliases_per_affiliate)",
            extra={"max_aliases_per_affiliate": campaign.max_aliases_per_affiliate},
        )
    code = await insert_code(
        session,
        campaign_id=campaign.id,
        text=text,
        form=form,
        kind="alias",
        max_redemptions=None,
        affiliate_id=affiliate_id,
        now=now,
    )
    if code is not None:
        return code, True
    raise Conflict(
        "alias_taken",
        f"{text.strip()!r} is taken: a live code reads the same ({form})",
        extra={"canonical": form},
    )


async def list_affiliate_codes(
    session: AsyncSession,
    affiliate_id: int,
    *,
    campaign_id: int | None,
    after_id: int | None,
    limit: int,
) -> list[Code]:
    """The affiliate's live codes (all kinds), oldest first; archived campaigns' are history."""
    query = (
        select(Code)
        .where(Code.affiliate_id == affiliate_id, Code.live)
        .order_by(Code.id)
        .limit(limit)
    )
    if campaign_id is not None:
        query = query.where(Code.campaign_id == campaign_id)
    if after_id is not None:
        query = query.where(Code.id > after_id)
    return list((await session.scalars(query)).all())
