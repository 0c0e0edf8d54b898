"""A code batch as the API answers it (the JSON routes and the events)."""

from __future__ import annotations

from datetime import timedelta

from promo.codes.batch_schemas import CodeBatchRead
from promo.codes.models import CodeBatch
from promo.ids import Kind, encode


def percent(generated: int, count: int) -> float:
    """Progress with one decimal, rounded down: 100.0 only when every code exists."""
    return (generated * 1000 // count) / 10 if count else 0.0


def batch_read(batch: CodeBatch) -> CodeBatchRead:
    return CodeBatchRead(
        id=encode(Kind.CODE_BATCH, batch.id),
        campaign_id=encode(Kind.CAMPAIGN, batch.campaign_id),
        pattern=batch.display_pattern,
        canonical_pattern=batch.pattern,
        charset=batch.charset,
        count=batch.count,
        generated=batch.generated,
        percent=percent(batch.generated, batch.count),
        status=batch.status,  # type: ignore[arg-type]
        error=batch.error,
        max_redemptions_per_code=batch.max_redemptions_per_code,
        affiliate_id=encode(Kind.AFFILIATE, batch.affiliate_id) if batch.affiliate_id else None,
        created_at=batch.created_at,
        finished_at=batch.finished_at,
        valid_for=timedelta(seconds=batch.valid_for_seconds)
        if batch.valid_for_seconds is not None
        else None,
        expires_at=batch.expires_at,
        customers_until=batch.customers_until,
    )
