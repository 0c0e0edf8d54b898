"""Ledger rows as the API answers them (the JSON routes and the events)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from promo.ids import Kind, encode
from promo.ledger.schemas import EntryRead
from promo.ledger.service import status_of

CENT = Decimal("0.01")


def entry_read(row: Any, now: datetime) -> EntryRead:
    return EntryRead(
        id=encode(Kind.LEDGER_ENTRY, row.id),
        created_at=row.created_at,
        kind=row.kind,
        redemption_id=encode(Kind.REDEMPTION, row.redemption_id) if row.redemption_id else None,
        order_id=row.order_id,
        code=row.code,
        campaign_id=encode(Kind.CAMPAIGN, row.campaign_id) if row.campaign_id else None,
        affiliate_id=encode(Kind.AFFILIATE, row.affiliate_id) if row.affiliate_id else None,
        currency=row.currency,
        order_amount=row.order_amount,
        discount=row.discount,
        commission=row.commission,
        available_at=row.available_at,
        payout_id=encode(Kind.PAYOUT, row.paid_by) if row.paid_by else None,
        status=status_of(row.kind, row.available_at, row.paid_by, now),  # type: ignore[arg-type]
        note=row.note,
        plan_id=encode(Kind.COMMISSION_PLAN, row.plan_id) if row.plan_id else None,
        plan_revision=row.plan_revision,
        rate=None if row.rate is None else Decimal(row.rate).quantize(CENT),
        conversion_id=encode(Kind.CONVERSION, row.conversion_id) if row.conversion_id else None,
    )
