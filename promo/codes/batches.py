"""Code batches: create one (after the campaign and guessability checks), read, list,
enable/disable.

The guessability bound keeps single-use codes hard to guess: all codes of a
pattern, existing ones included, must stay within ``max_guess_ratio`` of the
pattern's space (default 1e-4, so ~10,000 random guesses per hit). Batches of
one canonical pattern share that budget: their codes are counted from the
batch rows (``generated``, or the full ``count`` while still generating),
leaving out archived campaigns, whose codes are released. Writing the codes
is ``promo.codes.generation``'s job.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction

from sqlalchemy import case, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from promo.affiliates.models import Affiliate
from promo.campaigns.models import Campaign
from promo.codes.models import Code, CodeBatch
from promo.codes.patterns import Pattern, PatternError, max_count, parse_charset, parse_pattern
from promo.codes.validity import expiry
from promo.db.results import rows_changed
from promo.errors import Conflict, FieldError, Invalid, NotFound

# Batches up to this size are generated inside the creating request (201);
# larger ones in the background (202).
INLINE_MAX = 1000
UNFINISHED = ("pending", "running")
# Advisory lock namespace (PostgreSQL) of "a batch is being created for this
# canonical pattern": two concurrent creations cannot both pass the bound.
PATTERN_LOCK_NAMESPACE = 0x0C0DE0


def pattern_of(pattern: str, charset: str) -> Pattern:
    """The parsed pattern; 422 naming ``pattern`` or ``charset`` when unusable."""
    try:
        return parse_pattern(pattern, parse_charset(charset))
    except PatternError as exc:
        raise Invalid.field(exc.field, exc.message, f"invalid_{exc.field}") from None


def batch_pattern(batch: CodeBatch) -> Pattern:
    """The pattern a stored batch was created with."""
    return parse_pattern(batch.display_pattern, parse_charset(batch.charset))


async def codes_of_pattern(session: AsyncSession, canonical_pattern: str) -> int:
    """Codes of the pattern that exist or are being generated, archived campaigns aside."""
    counted = case((CodeBatch.status.in_(UNFINISHED), CodeBatch.count), else_=CodeBatch.generated)
    total = await session.scalar(
        select(func.coalesce(func.sum(counted), 0))
        .join(Campaign, Campaign.id == CodeBatch.campaign_id)
        .where(CodeBatch.pattern == canonical_pattern, Campaign.status != "archived")
    )
    return int(total or 0)


async def _lock_pattern(session: AsyncSession, canonical_pattern: str) -> None:
    """Serialise creations of one pattern until commit (SQLite: BEGIN IMMEDIATE does)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:pattern))"),
            {"namespace": PATTERN_LOCK_NAMESPACE, "pattern": canonical_pattern},
        )


async def create_batch(
    session: AsyncSession,
    campaign: Campaign,
    *,
    pattern: str,
    charset: str,
    count: int,
    max_redemptions_per_code: int | None,
    affiliate_id: int | None,
    max_guess_ratio: float,
    now: datetime,
    valid_for: timedelta | None = None,
    expires_at: datetime | None = None,
    customers_until: datetime | None = None,
) -> CodeBatch:
    """A pending batch, once the pattern, campaign, affiliate, validity and bound
    allow it. Its codes expire ``valid_for`` after ``now`` (its issue time) or at
    ``expires_at``; ``customers_until``: a batch issued to a list of customers."""
    parsed = pattern_of(pattern, charset)
    codes_expire_at = expiry(now, valid_for=valid_for, expires_at=expires_at)
    if campaign.status == "archived":
        raise Conflict("campaign_archived", "An archived campaign gets no new codes")
    if affiliate_id is not None and await session.get(Affiliate, affiliate_id) is None:
        raise NotFound("affiliate_not_found", "No such affiliate")
    await _lock_pattern(session, parsed.canonical)
    existing = await codes_of_pattern(session, parsed.canonical)
    # The decimal the operator wrote, exactly (0.3, not 0.29999...).
    allowed = max_count(parsed.space, existing, Fraction(repr(max_guess_ratio)))
    if count > allowed:
        message = f"at most {allowed} for this pattern"
        raise Invalid(
            "pattern_too_guessable",
            f"{parsed.canonical} has {parsed.space} possible codes and {existing} exist: "
            f"{count} more would make codes too easy to guess (codes / space must stay "
            f"<= {max_guess_ratio}); add '#' or use a larger charset, or ask for at most "
            f"{allowed}",
            errors=[FieldError("count", message)],
            extra={
                "space": parsed.space,
                "max_count": allowed,
                "existing": existing,
                "max_guess_ratio": max_guess_ratio,
            },
        )
    batch = CodeBatch(
        campaign_id=campaign.id,
        affiliate_id=affiliate_id,
        pattern=parsed.canonical,
        display_pattern=parsed.display,
        charset=parsed.charset.name,
        count=count,
        max_redemptions_per_code=max_redemptions_per_code,
        status="pending",
        generated=0,
        error=None,
        created_at=now,
        finished_at=None,
        valid_for_seconds=int(valid_for.total_seconds()) if valid_for is not None else None,
        expires_at=codes_expire_at,
        customers_until=customers_until,
    )
    session.add(batch)
    await session.flush()
    return batch


async def get_batch(session: AsyncSession, batch_id: int | None) -> CodeBatch:
    batch = await session.get(CodeBatch, batch_id) if batch_id is not None else None
    if batch is None:
        raise NotFound("batch_not_found", "No such code batch")
    return batch


async def list_batches(
    session: AsyncSession, campaign_id: int, *, after_id: int | None, limit: int
) -> list[CodeBatch]:
    """The campaign's batches in id order (oldest first), after ``after_id``."""
    query = (
        select(CodeBatch)
        .where(CodeBatch.campaign_id == campaign_id)
        .order_by(CodeBatch.id)
        .limit(limit)
    )
    if after_id is not None:
        query = query.where(CodeBatch.id > after_id)
    return list((await session.scalars(query)).all())


async def set_batch_active(session: AsyncSession, batch: CodeBatch, active: bool) -> int:
    """Enable or disable every code of a finished batch in one UPDATE; how many rows."""
    if batch.status in UNFINISHED:
        raise Conflict(
            "batch_not_finished",
            f"The batch is {batch.status}; its codes can be changed once it is done or failed",
        )
    result = await session.execute(
        update(Code).where(Code.batch_id == batch.id).values(active=active)
    )
    return rows_changed(result)
