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

from datetime import timedelta
from typing import Any

import msgspec
from sqlalchemy import literal_column, text
from sqlalchemy.dialects import postgresql

from promo.campaigns.eligibility import Offer
from promo.db.autocommit import Autocommit
from promo.db.public_ids import public_id
from promo.ids import Kind
from promo.redemptions.models import Redemption

_STEPS = """
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
)"""

CONSUME_AND_RECORD = text(
    _STEPS  # noqa: S608 (constant SQL of this module, no input in it)
    + """
SELECT EXISTS (SELECT FROM campaign) AS campaign_taken,
       EXISTS (SELECT FROM code) AS code_taken,
       EXISTS (SELECT FROM customer) AS customer_counted,
       (SELECT id FROM redemption) AS redemption_id,
       (SELECT id FROM entry) AS entry_id
"""
)

# Raised by promo_abandon() (migration 0006): the statement stopped short.
ABANDONED = "PR001"
_REDEMPTION_PUBLIC_ID = str(
    public_id(Kind.REDEMPTION, literal_column("redemption.id")).compile(
        dialect=postgresql.dialect(),  # type: ignore[no-untyped-call]
        compile_kwargs={"literal_binds": True},
    )
)

# The same steps, and the answer stored under the request's Idempotency-Key
# (its body as the caller rendered it, with the redemption's public id
# written in). Anything short of that raises, so that the statement, which
# runs on its own in autocommit, changes nothing at all.
REDEEM_AND_ANSWER = text(
    _STEPS  # noqa: S608 (constant SQL of this module, no input in it)
    + f""", answer AS (
    INSERT INTO idempotency_keys (
        scope, key, request_hash, status_code, response_body, created_at, completed_at
    )
    SELECT CAST(:scope AS varchar), CAST(:idempotency_key AS varchar),
           CAST(:request_hash AS varchar), 201,
           CAST(:answer_head AS bytea) || convert_to({_REDEMPTION_PUBLIC_ID}, 'UTF8')
               || CAST(:answer_tail AS bytea),
           CAST(:now AS timestamptz), CAST(:now AS timestamptz)
    FROM redemption
    ON CONFLICT (scope, key) DO NOTHING
    RETURNING id
)
SELECT CASE WHEN EXISTS (SELECT FROM answer) THEN (SELECT id FROM redemption)
            ELSE promo_abandon() END AS redemption_id
"""  # noqa: S608
)


class Steps(msgspec.Struct, frozen=True):
    """How far the statement got; ``redemption_id`` is set only when all went."""

    campaign_taken: bool
    code_taken: bool
    customer_counted: bool
    redemption_id: int | None


def step_parameters(red: Redemption, offer: Offer) -> dict[str, Any]:
    """The parameters of the steps: the redemption as granted, and its offer."""
    return {
        "campaign_id": red.campaign_id,
        "code_id": red.code_id,
        "code": offer.code.display,
        "affiliate_id": red.affiliate_id,
        "customer_key": red.customer_key,
        "customer_id": red.customer_id,
        "per_customer": offer.campaign.max_redemptions_per_customer,
        "order_id": red.order_id,
        "currency": red.currency,
        "order_amount": red.order_amount,
        "discount": red.discount_total,
        "discount_shipping": red.discount_shipping,
        "discount_lines": msgspec.json.encode(red.discount_lines).decode(),
        "commission": red.commission,
        "commission_fixed": red.commission_fixed,
        "now": red.created_at,
        "available_at": red.created_at + timedelta(days=offer.holding_days),
    }


async def consume_and_record(unit: Autocommit, red: Redemption, offer: Offer) -> Steps:
    """Run the steps inside the caller's transaction, which rolls back on a refusal."""
    row = await unit.first(CONSUME_AND_RECORD, step_parameters(red, offer))
    assert row is not None  # noqa: S101 (the statement always answers one row)
    return Steps(
        campaign_taken=row["campaign_taken"],
        code_taken=row["code_taken"],
        customer_counted=row["customer_counted"],
        redemption_id=row["redemption_id"],
    )


class Answer(msgspec.Struct, frozen=True):
    """Where a redemption's answer is stored, and its body around the public id."""

    scope: str
    key: str
    fingerprint: str
    head: bytes
    tail: bytes


async def redeem_and_answer(
    writes: Autocommit, red: Redemption, offer: Offer, answer: Answer
) -> int | None:
    """Run the steps and store ``answer`` in one autocommitted statement: the
    redemption's id, or None when the statement stopped short and changed nothing
    (a limit, an order or an Idempotency-Key already taken)."""
    parameters = step_parameters(red, offer) | {
        "scope": answer.scope,
        "idempotency_key": answer.key,
        "request_hash": answer.fingerprint,
        "answer_head": answer.head,
        "answer_tail": answer.tail,
    }
    try:
        row = await writes.first(REDEEM_AND_ANSWER, parameters)
    except Exception as exc:
        if _sqlstate(exc) == ABANDONED:
            return None
        raise
    assert row is not None  # noqa: S101 (the statement answers one row or raises)
    return int(row["redemption_id"])


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of an asyncpg error, bare or wrapped by SQLAlchemy."""
    for candidate in (exc, getattr(exc, "orig", None), exc.__cause__):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str):
            return state
    return None
