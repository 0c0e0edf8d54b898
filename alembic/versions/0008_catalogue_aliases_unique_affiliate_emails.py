"""catalogue: affiliates' aliases per campaign, one affiliate per canonical e-mail

Campaigns gain ``affiliate_aliases`` (off for every existing campaign, as
for new ones) and ``max_aliases_per_affiliate`` (1). The canonical e-mail of
affiliates becomes unique (``uq_affiliates_email_key``), so that two
concurrent creations with one address cannot both succeed.

Existing duplicates are not resolved here: two affiliates with one address
may each hold codes, ledger entries and payouts, and neither deleting nor
merging nor re-keying one of them is safe to guess (the canonical e-mail is
also what self-referral is checked against). The upgrade stops before any
change, listing them; give each later duplicate its own address
(``PATCH /v1/affiliates/{id} {"email": ...}`` on the running version), then
upgrade again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DUPLICATES = sa.text(
    "SELECT email_key, COUNT(*) AS n, MIN(id) AS first_id FROM affiliates "
    "GROUP BY email_key HAVING COUNT(*) > 1 ORDER BY email_key"
)


class DuplicateAffiliateEmails(RuntimeError):
    """The unique index cannot be built until each affiliate has its own address."""


def _refuse_duplicates() -> None:
    rows = op.get_bind().execute(DUPLICATES).all()
    if rows:
        listed = "; ".join(
            f"{row.email_key}: {row.n} affiliates (the first is id {row.first_id})"
            for row in rows[:20]
        )
        raise DuplicateAffiliateEmails(
            f"{len(rows)} canonical e-mails are held by several affiliates ({listed}). "
            "Give each later affiliate its own e-mail (PATCH /v1/affiliates/{id}), "
            "then run the upgrade again; nothing was changed."
        )


def upgrade() -> None:
    _refuse_duplicates()
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(
            sa.Column(
                "affiliate_aliases", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
        batch.add_column(
            sa.Column(
                "max_aliases_per_affiliate",
                sa.Integer(),
                server_default=sa.text("1"),
                nullable=False,
            )
        )
    op.drop_index(op.f("ix_affiliates_email_key"), table_name="affiliates")
    op.create_index(op.f("uq_affiliates_email_key"), "affiliates", ["email_key"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("uq_affiliates_email_key"), table_name="affiliates")
    op.create_index(op.f("ix_affiliates_email_key"), "affiliates", ["email_key"], unique=False)
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("max_aliases_per_affiliate")
        batch.drop_column("affiliate_aliases")
