"""The consuming half of a redemption on PostgreSQL: one statement, one round trip.

Campaign (count and budget), code and customer usage are consumed, and the
redemption and its ledger entry written, by data-modifying CTEs of a single
statement instead of five round trips. Each step only runs if the one before
it succeeded (``EXISTS`` on its ``RETURNING``), which also keeps the lock
order of promo.redemptions.counters: campaign row, code row, customer row.
Every condition is re-checked by the UPDATE itself, so under concurrency
READ COMMITTED re-evaluates it on the newest row version and limits stay
exact. The statement says which step stopped; the caller classifies why and
rolls the transaction back (a later step may have stopped after an earlier
one consumed). SQLite runs the same steps one statement at a time
(promo.redemptions.service).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import text

from promo.db.autocommit import Autocommit

CONSUME_AND_RECORD = text(
    """
WITH campaign AS (
    UPDATE campaigns
    SET redemptions_used = redemptions_used + 1,
        budget_used = budget_used + CAST(:discount AS bigint)
    WHERE id = CAST(:campaign_id AS bigint)
      AND status = 'active'
      AND (max_redemptions IS NULL OR redemptions_used < max_redemptions)
      AND (budget IS NULL OR budget_used + CAST(:discount AS bigint) <= budget)
    RETURNING id
), code AS (
    UPDATE codes SET used = used + 1
    WHERE id = CAST(:code_id AS bigint)
      AND active AND live
      AND (max_redemptions IS NULL OR used < max_redemptions)
      AND EXISTS (SELECT FROM campaign)
    RETURNING id
), customer AS (
    INSERT INTO customer_usage (campaign_id, customer_key, used)
    SELECT CAST(:campaign_id AS bigint), CAST(:customer_key AS varchar), 1
    WHERE CAST(:customer_key AS varchar) IS NOT NULL AND EXISTS (SELECT FROM code)
    ON CONFLICT (campaign_id, customer_key) DO UPDATE
    SET used = customer_usage.used + 1
    WHERE CAST(:per_customer AS integer) IS NULL
       OR customer_usage.used < CAST(:per_customer AS integer)
    RETURNING used
), redemption AS (
    INSERT INTO redemptions (
        code_id, campaign_id, affiliate_id, customer_key, customer_id, order_id,
        currency, order_amount, discount_total, discount_shipping, discount_lines,
        commission, commission_fixed, refunded_amount, budget_returned,
        created_at, rolled_back_at
    )
    SELECT CAST(:code_id AS bigint), CAST(:campaign_id AS bigint),
           CAST(:affiliate_id AS bigint), CAST(:customer_key AS varchar),
           CAST(:customer_id AS varchar), CAST(:order_id AS varchar),
           CAST(:currency AS varchar), CAST(:order_amount AS bigint),
           CAST(:discount AS bigint), CAST(:discount_shipping AS bigint),
           CAST(CAST(:discount_lines AS text) AS json),
           CAST(:commission AS bigint), CAST(:commission_fixed AS bigint), 0, 0,
           CAST(:now AS timestamptz), NULL
    WHERE EXISTS (SELECT FROM code)
      AND (CAST(:customer_key AS varchar) IS NULL OR EXISTS (SELECT FROM customer))
    ON CONFLICT (order_id) WHERE rolled_back_at IS NULL DO NOTHING
    RETURNING id
), entry AS (
    INSERT INTO ledger_entries (
        created_at, kind, redemption_id, order_id, code, campaign_id, affiliate_id,
        currency, order_amount, discount, commission, available_at, payout_id, note
    )
    SELECT CAST(:now AS timestamptz), 'redemption', redemption.id,
           CAST(:order_id AS varchar), CAST(:code AS varchar), CAST(:campaign_id AS bigint),
           CAST(:affiliate_id AS bigint), CAST(:currency AS varchar),
           CAST(:order_amount AS bigint), CAST(:discount AS bigint),
           CAST(:commission AS bigint), CAST(:available_at AS timestamptz), NULL, NULL
    FROM redemption
    RETURNING id
)
SELECT EXISTS (SELECT FROM campaign) AS campaign_taken,
       EXISTS (SELECT FROM code) AS code_taken,
       EXISTS (SELECT FROM customer) AS customer_counted,
       (SELECT id FROM redemption) AS redemption_id,
       (SELECT id FROM entry) AS entry_id
"""
)


class Steps(msgspec.Struct, frozen=True):
    """How far the statement got; ``redemption_id`` is set only when all went."""

    campaign_taken: bool
    code_taken: bool
    customer_counted: bool
    redemption_id: int | None


async def consume_and_record(
    unit: Autocommit,
    *,
    campaign_id: int,
    code_id: int,
    code: str,
    affiliate_id: int | None,
    customer_key: str | None,
    customer_id: str | None,
    per_customer: int | None,
    order_id: str,
    currency: str,
    order_amount: int,
    discount: int,
    discount_shipping: int,
    discount_lines: list[dict[str, Any]],
    commission: int,
    commission_fixed: int,
    now: datetime,
    available_at: datetime,
) -> Steps:
    row = await unit.first(
        CONSUME_AND_RECORD,
        {
            "campaign_id": campaign_id,
            "code_id": code_id,
            "code": code,
            "affiliate_id": affiliate_id,
            "customer_key": customer_key,
            "customer_id": customer_id,
            "per_customer": per_customer,
            "order_id": order_id,
            "currency": currency,
            "order_amount": order_amount,
            "discount": discount,
            "discount_shipping": discount_shipping,
            "discount_lines": msgspec.json.encode(discount_lines).decode(),
            "commission": commission,
            "commission_fixed": commission_fixed,
            "now": now,
            "available_at": available_at,
        },
    )
    assert row is not None  # noqa: S101 (the statement always answers one row)
    return Steps(
        campaign_taken=row["campaign_taken"],
        code_taken=row["code_taken"],
        customer_counted=row["customer_counted"],
        redemption_id=row["redemption_id"],
    )
