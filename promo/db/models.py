"""Imports every domain's tables so that ``metadata`` is complete (alembic, tests)."""

from promo import audit
from promo.affiliates import models as affiliates
from promo.auth import models as auth
from promo.campaigns import models as campaigns
from promo.checkout import models as checkout
from promo.codes import models as codes
from promo.db.metadata import metadata
from promo.ledger import models as ledger
from promo.reports import models as reports

__all__ = [
    "affiliates",
    "audit",
    "auth",
    "campaigns",
    "checkout",
    "codes",
    "ledger",
    "metadata",
    "reports",
]
