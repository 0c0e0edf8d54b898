"""HTTP shapes of the ledger, payouts, adjustments and the commission report."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec

from promo.campaigns.schemas import Currency, Instant
from promo.ids import Kind as IdKind
from promo.ids import encode
from promo.schemas import NO_NUL, Schema, SignedAmount

Kind = Literal["redemption", "reversal", "refund", "adjustment", "payout", "bonus", "conversion"]


class EntryRead(Schema):
    id: str
    created_at: datetime
    kind: Kind
    redemption_id: str | None
    order_id: str | None
    code: str | None
    campaign_id: str | None
    affiliate_id: str | None
    currency: str
    order_amount: int
    discount: int
    commission: int
    available_at: datetime
    payout_id: str | None
    status: Literal["pending", "approved", "paid"]
    note: str | None
    plan_id: str | None = None
    """The commission plan that priced it (null: an inline percent/fixed or none)."""
    plan_revision: int | None = None
    rate: Decimal | None = None
    """The base rate (percent, after volume tiers) it was priced at."""
    conversion_id: str | None = None
    """The conversion it credits or takes back (/v1/conversions)."""


class EntryPage(Schema):
    items: list[EntryRead]
    next_cursor: str | None


class AdjustmentCreate(Schema):
    affiliate_id: Annotated[str, msgspec.Meta(max_length=64)]
    currency: Currency
    commission: SignedAmount
    note: Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=NO_NUL)]


class PayoutRun(Schema):
    as_of: Instant


class PayoutRead(Schema):
    id: str
    affiliate_id: str
    currency: str
    amount: int
    as_of: datetime
    created_at: datetime


class PayoutSummary(PayoutRead, kw_only=True):
    """A payout in the list: how many ledger entries it covers, not the entries."""

    entries: int


class PayoutPage(Schema):
    items: list[PayoutSummary]
    next_cursor: str | None


class PayoutDetail(PayoutRead, kw_only=True):
    """A payout and every ledger entry it covers, in id order (the payout's own
    negative ``payout`` entry excluded): what a transfer is reconciled against."""

    items: list[EntryRead]


class PayoutRunResult(Schema):
    as_of: datetime
    payouts: list[PayoutRead]


class PlannedPayoutRead(Schema):
    """A payout a run would make: to whom, in what currency, how much, covering
    how many ledger entries."""

    affiliate_id: str
    currency: str
    amount: int
    entries: int


class CurrencyTotal(Schema):
    currency: str
    payouts: int
    amount: int


class PayoutPreview(Schema):
    """What ``POST /v1/payouts`` with this ``as_of`` would pay now, per affiliate
    and currency, with the totals per currency; nothing is written."""

    as_of: datetime
    payouts: list[PlannedPayoutRead]
    totals: list[CurrencyTotal]


class CommissionTotals(Schema):
    affiliate_id: str | None
    currency: str
    orders: int
    revenue: int
    discount: int
    commission_pending: int
    commission_approved: int
    commission_paid: int
    balance: int


class CommissionReport(Schema):
    start: datetime | None
    end: datetime | None
    rows: list[CommissionTotals]


class Earnings(Schema):
    currency: str
    pending: int
    approved: int
    paid: int
    balance: int


class EarningsRead(Schema):
    affiliate_id: str
    earnings: list[Earnings]


def payout_fields(row: Any) -> dict[str, Any]:
    """A payout row's fields as every payout answer shows them (list, detail, run)."""
    return {
        "id": encode(IdKind.PAYOUT, row.id),
        "affiliate_id": encode(IdKind.AFFILIATE, row.affiliate_id),
        "currency": row.currency,
        "amount": row.amount,
        "as_of": row.as_of,
        "created_at": row.created_at,
    }
