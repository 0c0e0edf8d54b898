"""The append-only ledger of redemptions, refunds, reversals, adjustments and payouts."""
