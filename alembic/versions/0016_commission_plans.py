"""commission plans, their revisions and periods; what priced each sale; conversions

- commission_plans, commission_plan_revisions: plans (promo.plans) and the
  terms of each of their revisions.
- commission_periods: an affiliate's sales and revenue per plan and calendar
  month (tiers and bonuses read them; the bonus job settles them).
- campaigns.commission_plan_id, affiliates.commission_plan_id: the attached
  plan (the affiliate's overrides the campaign's).
- redemptions.commission_plan_id, _plan_revision, _rate, _tier, _period,
  _lines: what priced the commission; ledger_entries.plan_id, plan_revision,
  rate: the same on each entry. Existing rows: NULL (inline terms), tier 0,
  no lines. No foreign key on those two plan ids: each check would take a
  share lock on the plan's one row for every sale it prices (a MultiXact
  per concurrent sale); plans are never deleted.
- conversions (promo.conversions), unique by (kind, external_id);
  ledger_entries.conversion_id: the conversion an entry credits or reverses.
- ledger_entries.kind also takes 'bonus' and 'conversion'. SQLite cannot
  alter a CHECK constraint: the table is rebuilt (its append-only triggers
  and partial index are made again).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 01:30:00.000000
"""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OLD_KINDS = "kind IN ('redemption', 'reversal', 'refund', 'adjustment', 'payout')"
NEW_KINDS = (
    "kind IN ('redemption', 'reversal', 'refund', 'adjustment', 'payout', 'bonus', 'conversion')"
)
COMMISSION_ENTRY = "affiliate_id IS NOT NULL AND commission <> 0 AND kind <> 'payout'"


def _sqlite_triggers(create: bool) -> None:
    for operation in ("UPDATE", "DELETE"):
        name = f"ledger_entries_no_{operation.lower()}"
        if create:
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {operation} ON ledger_entries BEGIN SELECT "
                f"RAISE(ABORT, 'append-only: {operation} on ledger_entries is refused'); END"
            )
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")


def _add_plan_columns(batch: Any) -> None:
    batch.add_column(sa.Column("conversion_id", BIG_ID, nullable=True))
    batch.create_foreign_key(
        op.f("fk_ledger_entries_conversion_id_conversions"), "conversions", ["conversion_id"], ["id"]
    )
    batch.create_index(op.f("ix_ledger_entries_conversion_id"), ["conversion_id"], unique=False)
    batch.add_column(sa.Column("plan_id", BIG_ID, nullable=True))
    batch.add_column(sa.Column("plan_revision", sa.Integer(), nullable=True))
    batch.add_column(sa.Column("rate", sa.Numeric(5, 2), nullable=True))


def _drop_plan_columns(batch: Any) -> None:
    batch.drop_column("rate")
    batch.drop_column("plan_revision")
    batch.drop_column("plan_id")
    batch.drop_index(op.f("ix_ledger_entries_conversion_id"))
    batch.drop_constraint(
        op.f("fk_ledger_entries_conversion_id_conversions"), type_="foreignkey"
    )
    batch.drop_column("conversion_id")


def _rebuild_ledger(kinds: str, columns: Callable[[Any], None]) -> None:
    """ledger_entries with the kind CHECK ``kinds`` and the plan columns changed by
    ``columns``; SQLite rebuilds the table, so its append-only triggers and its
    partial index are dropped first and made again after."""
    name = op.f("ck_ledger_entries_kind")
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _sqlite_triggers(create=False)
        op.drop_index("ix_ledger_entries_available_commission", table_name="ledger_entries")
    with op.batch_alter_table("ledger_entries", recreate="always" if sqlite else "auto") as batch:
        batch.drop_constraint(name, type_="check")
        batch.create_check_constraint(name, kinds)
        columns(batch)
    if sqlite:
        op.create_index(
            "ix_ledger_entries_available_commission",
            "ledger_entries",
            ["available_at"],
            sqlite_where=sa.text(COMMISSION_ENTRY),
        )
        _sqlite_triggers(create=True)


def upgrade() -> None:
    op.create_table(
        "commission_plans",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_plans")),
    )
    op.create_table(
        "commission_plan_revisions",
        sa.Column("plan_id", BIG_ID, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["commission_plans.id"],
            name=op.f("fk_commission_plan_revisions_plan_id_commission_plans"),
        ),
        sa.PrimaryKeyConstraint("plan_id", "revision", name=op.f("pk_commission_plan_revisions")),
    )
    op.create_table(
        "commission_periods",
        sa.Column("affiliate_id", BIG_ID, nullable=False),
        sa.Column("plan_id", BIG_ID, nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sales", sa.Integer(), nullable=False),
        sa.Column("revenue", sa.BigInteger(), nullable=False),
        sa.Column("bonus_settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["affiliate_id"],
            ["affiliates.id"],
            name=op.f("fk_commission_periods_affiliate_id_affiliates"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["commission_plans.id"],
            name=op.f("fk_commission_periods_plan_id_commission_plans"),
        ),
        sa.PrimaryKeyConstraint(
            "affiliate_id", "plan_id", "period", name=op.f("pk_commission_periods")
        ),
    )
    op.create_index(
        "ix_commission_periods_unsettled",
        "commission_periods",
        ["ends_at"],
        postgresql_where=sa.text("bonus_settled_at IS NULL"),
        sqlite_where=sa.text("bonus_settled_at IS NULL"),
    )
    for table in ("campaigns", "affiliates"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("commission_plan_id", BIG_ID, nullable=True))
            batch.create_foreign_key(
                op.f(f"fk_{table}_commission_plan_id_commission_plans"),
                "commission_plans",
                ["commission_plan_id"],
                ["id"],
            )
    with op.batch_alter_table("redemptions") as batch:
        batch.add_column(sa.Column("commission_plan_id", BIG_ID, nullable=True))
        batch.add_column(sa.Column("commission_plan_revision", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("commission_rate", sa.Numeric(5, 2), nullable=True))
        batch.add_column(
            sa.Column("commission_tier", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch.add_column(sa.Column("commission_period", sa.String(length=7), nullable=True))
        batch.add_column(
            sa.Column(
                "commission_lines", sa.JSON(), server_default=sa.text("'[]'"), nullable=False
            )
        )
    op.create_table(
        "conversions",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("affiliate_id", BIG_ID, nullable=False),
        sa.Column("code_id", BIG_ID, nullable=True),
        sa.Column("campaign_id", BIG_ID, nullable=True),
        sa.Column("order_id", sa.String(length=128), nullable=True),
        sa.Column("value", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("commission", sa.BigInteger(), nullable=False),
        sa.Column("plan_id", BIG_ID, nullable=False),
        sa.Column("plan_revision", sa.Integer(), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["affiliate_id"], ["affiliates.id"], name=op.f("fk_conversions_affiliate_id_affiliates")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_conversions_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(["code_id"], ["codes.id"], name=op.f("fk_conversions_code_id_codes")),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["commission_plans.id"],
            name=op.f("fk_conversions_plan_id_commission_plans"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversions")),
    )
    op.create_index(
        "uq_conversions_kind_external_id", "conversions", ["kind", "external_id"], unique=True
    )
    op.create_index(op.f("ix_conversions_affiliate_id"), "conversions", ["affiliate_id"])
    op.create_index(op.f("ix_conversions_created_at"), "conversions", ["created_at"])
    _rebuild_ledger(NEW_KINDS, _add_plan_columns)


def downgrade() -> None:
    _rebuild_ledger(OLD_KINDS, _drop_plan_columns)
    op.drop_table("conversions")
    with op.batch_alter_table("redemptions") as batch:
        for column in (
            "commission_lines",
            "commission_period",
            "commission_tier",
            "commission_rate",
            "commission_plan_revision",
            "commission_plan_id",
        ):
            batch.drop_column(column)
    for table in ("affiliates", "campaigns"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(
                op.f(f"fk_{table}_commission_plan_id_commission_plans"), type_="foreignkey"
            )
            batch.drop_column("commission_plan_id")
    op.drop_index("ix_commission_periods_unsettled", table_name="commission_periods")
    op.drop_table("commission_periods")
    op.drop_table("commission_plan_revisions")
    op.drop_table("commission_plans")
