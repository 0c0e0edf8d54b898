"""Words the pages show from data (roles, statuses, kinds, error titles),
marked here for the catalogue; templates translate them where they show
them (``{{ _(campaign.status) }}``). tests/unit/test_console_catalogue.py
checks that every value of the schemas' lists is here, so a new status
cannot reach a French page in English.
"""

from __future__ import annotations

from promo.console.i18n import N_

ROLES = (N_("admin"), N_("marketer"), N_("checkout"), N_("affiliate"), N_("accountant"))
CAMPAIGN_STATUSES = (N_("draft"), N_("active"), N_("paused"), N_("archived"))
CODE_KINDS = (
    N_("vanity"),
    N_("dedicated"),
    N_("alias"),
    N_("batch"),
    N_("referral"),
    N_("automatic"),
)
CAMPAIGN_KINDS = (N_("standard"), N_("referral"))
# How a percentage or fixed amount falls on the items (campaigns.schemas.Allocation).
ALLOCATIONS = (N_("across"), N_("each"))
BATCH_STATUSES = (N_("pending"), N_("running"), N_("done"), N_("failed"))
# Why an import refused a line (promo.codes.imports_lines.Reason), as the pages say it.
IMPORT_REASONS = {
    "malformed_line": N_("The line cannot be read"),
    "invalid_code": N_("Not a valid code"),
    "invalid_max_redemptions": N_("Invalid max_redemptions"),
    "duplicate_in_file": N_("Repeats an earlier line"),
    "code_taken": N_("A live code reads the same"),
}
LEDGER_KINDS = (
    N_("redemption"),
    N_("reversal"),
    N_("refund"),
    N_("adjustment"),
    N_("payout"),
    N_("bonus"),
    N_("conversion"),
)
LEDGER_STATUSES = (N_("pending"), N_("approved"), N_("paid"))
CONVERSION_STATUSES = (N_("pending"), N_("approved"), N_("rejected"))
# What volume tiers and bonuses count (commission plans).
PLAN_BASES = (N_("sales"), N_("revenue"))
SALE_STATUSES = (N_("active"), N_("partially_refunded"), N_("rolled_back"))
RESERVATION_STATUSES = (N_("held"), N_("confirmed"), N_("released"), N_("expired"))
ACCOUNT_STATUSES = (N_("invited"), N_("active"), N_("inactive"))
ACTORS = (N_("api"), N_("console"), N_("cli"))
CHOICES = (N_("All"), N_("Any"))
# Titles of the error pages: the API's problem titles (promo.errors).
ERROR_TITLES = (
    N_("Error"),
    N_("Request failed"),
    N_("Not found"),
    N_("Not Found"),
    N_("Conflict"),
    N_("Invalid request"),
    N_("Bad request"),
    N_("Bad Request"),
    N_("Unauthorized"),
    N_("Forbidden"),
    N_("Too many requests"),
    N_("Payload too large"),
    N_("Method Not Allowed"),
    N_("Internal error"),
    N_("Service unavailable"),
)
