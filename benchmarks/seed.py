"""Seeding the benchmark database, straight into PostgreSQL after `promo db upgrade`.

Campaigns are stored through the ORM model (as the service stores them), API
keys through ``promo.auth.service.create_key``, codes with ``INSERT ...
SELECT generate_series`` (a few seconds for hundreds of thousands). The
ledger of the export row is seeded by ``benchmarks/ledger_export.py``'s own
functions, so that both benchmarks export the same kind of rows.

Codes are named by an index: ``M`` and 8 digits, which is its own canonical
form, so the wrk and pgbench scripts build any code of a pool from its index
without a list. Index 0 is the hot code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text

from promo.affiliates.models import Affiliate
from promo.auth.roles import Role
from promo.auth.service import create_key
from promo.campaigns.models import Campaign
from promo.db.engine import create_engine, create_sessionmaker
from promo.plans.models import CommissionPlan, CommissionPlanRevision
from promo.settings import Settings
from tests.support.factories import campaign_row

HOT_INDEX = 0
HOT_CODE_LIMIT = 100_000_000
MANY_CAMPAIGNS = 10
# The "plan" shape: codes of PLAN_AFFILIATES affiliates over 10 campaigns whose
# commission plan has a rate per category (the carts' "summer" line), volume
# tiers (crossed during the run) and a fixed part.
PLAN_AFFILIATES = 100
PLAN_TERMS = {
    "percent": "5.00",
    "fixed": 50,
    "category_rates": {"summer": "12.00"},
    "tiers": {
        "basis": "sales",
        "levels": [{"threshold": 10, "percent": "7.00"}, {"threshold": 100, "percent": "9.00"}],
    },
    "bonus": {"basis": "sales", "threshold": 500, "amount": 10000},
}


@dataclass
class Pool:
    """Codes ``lo`` .. ``lo + size - 1``; redemption runs take them front to back."""

    # "many" (spread over the 10 plain campaigns), "affiliate" (the same, codes
    # of the partners), "plan" (over the 10 campaigns with a plan, codes of the
    # partners) or one campaign's name
    group: str
    size: int
    lo: int = 0
    used: int = 0

    @property
    def next(self) -> int:
        return self.lo + self.used

    @property
    def left(self) -> int:
        return self.size - self.used

    def consume(self, count: int) -> None:
        self.used = min(self.size, self.used + count)


@dataclass
class Seeded:
    keys: dict[Role, str]
    campaigns: dict[str, int]
    pools: dict[str, Pool]
    affiliates: list[int]


def _campaign(
    name: str, now: datetime, *, max_redemptions: int | None = None, budget: int | None = None
) -> Campaign:
    return campaign_row(
        name=name,
        now=now,
        starts_at=now - timedelta(days=1),
        rules={"exclude_skus": ["GIFT-CARD"]},
        max_discount=5000,
        amount_off=None,
        max_redemptions=max_redemptions,
        max_redemptions_per_customer=1,
        budget=budget,
        commission_percent=Decimal(10),
        commission_fixed=None,
    )


# Campaigns a run may use. "limited-*" have a redemption limit and a budget that
# the benchmark never reaches; the others have no campaign-level limits.
CAMPAIGNS: dict[str, dict[str, int]] = {
    **{f"many-{n}": {} for n in range(MANY_CAMPAIGNS)},
    **{f"plan-{n}": {} for n in range(MANY_CAMPAIGNS)},
    "limited-promo": {"max_redemptions": 100_000_000, "budget": 10**15},
    "limited-bare": {"max_redemptions": 100_000_000, "budget": 10**15},
    "limited-pgbench": {"max_redemptions": 100_000_000, "budget": 10**15},
    "nolimit-promo": {},
    "hot": {},
    "bulk": {},
}

INSERT_CODES = text(
    """
    INSERT INTO codes (campaign_id, code, canonical, kind, max_redemptions, used,
                       active, live, created_at, affiliate_id)
    SELECT (CAST(:campaigns AS bigint[]))[1 + i % :spread],
           'M' || lpad(i::text, 8, '0'), 'M' || lpad(i::text, 8, '0'),
           'vanity', :max_redemptions, 0, true, true, now(),
           (CAST(:affiliates AS bigint[]))[
               1 + i % GREATEST(cardinality(CAST(:affiliates AS bigint[])), 1)]
    FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS i
    """
)


async def seed_base(settings: Settings) -> Seeded:
    """Campaigns, an affiliate and the API keys the run uses."""
    now = datetime.now(UTC)
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            plan = CommissionPlan(
                name="bench plan",
                currency="EUR",
                timezone="Europe/Paris",
                revision=1,
                terms=PLAN_TERMS,
                created_at=now - timedelta(days=1),
                updated_at=now - timedelta(days=1),
            )
            session.add(plan)
            await session.flush()
            session.add(
                CommissionPlanRevision(
                    plan_id=plan.id,
                    revision=1,
                    terms=PLAN_TERMS,
                    timezone=plan.timezone,
                    created_at=plan.created_at,
                )
            )
            rows = {name: _campaign(name, now, **limits) for name, limits in CAMPAIGNS.items()}
            for name, row in rows.items():
                if name.startswith("plan-"):
                    row.commission_percent = None
                    row.commission_plan_id = plan.id
            partners = [
                Affiliate(
                    name=f"partner {n}",
                    email=f"partner{n}@bench.test",
                    email_key=f"partner{n}@bench.test",
                    payout_thresholds={},
                    holding_days=30,
                    active=True,
                    created_at=now,
                    updated_at=now,
                )
                for n in range(PLAN_AFFILIATES)
            ]
            session.add_all([*rows.values(), *partners])
            await session.flush()
            keys = {}
            for role in (Role.CHECKOUT, Role.MARKETER, Role.ACCOUNTANT):
                _, keys[role] = await create_key(
                    session, role=role, affiliate_id=None, name=f"bench {role}", now=now
                )
            campaigns = {name: row.id for name, row in rows.items()}
    finally:
        await engine.dispose()
    return Seeded(keys=keys, campaigns=campaigns, pools={}, affiliates=[a.id for a in partners])


async def seed_codes(settings: Settings, seeded: Seeded, pools: dict[str, Pool]) -> None:
    """The hot code and ``pools`` (their indexes are assigned here), then fresh
    statistics and visibility (VACUUM ANALYZE), and a checkpoint, so that no
    checkpoint of the seed's WAL falls in the middle of a measurement."""
    campaigns = seeded.campaigns
    many = [campaigns[f"many-{n}"] for n in range(MANY_CAMPAIGNS)]
    planned = [campaigns[f"plan-{n}"] for n in range(MANY_CAMPAIGNS)]
    engine = create_engine(settings)
    try:
        async with engine.begin() as connection:
            hot = {
                "campaigns": [campaigns["hot"]],
                "spread": 1,
                "lo": HOT_INDEX,
                "hi": HOT_INDEX,
                "affiliates": [],
            }
            await connection.execute(INSERT_CODES, {**hot, "max_redemptions": HOT_CODE_LIMIT})
            lo = HOT_INDEX + 1
            for pool in pools.values():
                pool.lo = lo
                lo += pool.size
                targets = (
                    many
                    if pool.group in ("many", "affiliate")
                    else planned
                    if pool.group == "plan"
                    else [campaigns[pool.group]]
                )
                values = {
                    "campaigns": targets,
                    "spread": len(targets),
                    "max_redemptions": 1,
                    "affiliates": seeded.affiliates if pool.group in ("plan", "affiliate") else [],
                }
                await connection.execute(
                    INSERT_CODES, {**values, "lo": pool.lo, "hi": pool.lo + pool.size - 1}
                )
        seeded.pools = pools
        autocommit = await engine.connect()
        try:
            connection = await autocommit.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE"))
            await connection.execute(text("CHECKPOINT"))
        finally:
            await autocommit.close()
    finally:
        await engine.dispose()
