"""HTTP shapes of the performance report."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from promo.reports.buckets import Bucket
from promo.schemas import Schema

GroupBy = Literal["campaign", "code", "affiliate", "channel"]
Format = Literal["json", "csv"]


# gc=False: a report can answer 12,000 rows, and rows hold no other objects that
# could make a cycle, so the collector need not track (and scan) them.
class PerformanceRow(Schema, gc=False):
    """One group, currency and bucket. Amounts in minor units of ``currency``."""

    bucket: date
    """The local date (in ``tz``) the calendar day, week (Monday) or month starts on."""
    start: datetime
    """The first instant this row covers (the bucket's start, or ``from``)."""
    end: datetime
    """The instant after the last it covers (the next bucket's start, or ``to``)."""
    campaign_id: str | None
    """group_by campaign, and code (the code's campaign)."""
    affiliate_id: str | None
    """group_by affiliate (null: sales of codes without affiliate), and code."""
    code: str | None
    """group_by code: the code as displayed."""
    channel: str | None
    """group_by channel (null: codes without a label), and code: the code's current label."""
    currency: str
    validations_tried: int
    """POST /v1/validations that found this live code, valid or not."""
    validations_valid: int
    """Those that answered valid: true."""
    redemptions: int
    validation_to_redemption_rate: str | None
    """redemptions / validations_valid, 4 decimals; null without valid validations."""
    revenue: int
    """Order amounts (eligible items after discount) of the redemptions."""
    discount: int
    """Discount granted, less what refunds and rollbacks gave back to the budget."""
    commission: int
    """Commission earned, less what refunds and rollbacks took back."""
    refunds: int
    """Order amounts refunded (partial refunds and full rollbacks)."""
    refunds_count: int
    """How many refunds and full rollbacks."""
    net_revenue: int
    """revenue - refunds."""
    cost_per_sale: int | None
    """(discount + commission) / redemptions, rounded half up; null without redemptions."""
    return_on_cost: str | None
    """net_revenue / (discount + commission), 4 decimals; null when that cost is not positive."""


class PerformanceReport(Schema):
    group_by: GroupBy
    bucket: Bucket
    tz: str
    start: datetime
    end: datetime
    sales_rolled_up_until: datetime | None
    """Sales before this instant come from the roll-ups, after it from the ledger itself
    (null: all from the ledger); either way they are exact up to now. Validations are
    as of each worker's last flush (PROMO_REPORT_FLUSH_SECONDS)."""
    rows: list[PerformanceRow]
