"""Imports every domain's tables so that ``metadata`` is complete (alembic, tests)."""

from promo import audit
from promo.affiliates import models as affiliates
from promo.auth import models as auth
from promo.campaigns import models as campaigns
from promo.checkout import models as checkout
from promo.codes import import_models as code_imports
from promo.codes import models as codes
from promo.conversions import models as conversions
from promo.db.metadata import metadata
from promo.events import models as events
from promo.jobs import models as jobs
from promo.ledger import models as ledger
from promo.people import models as people
from promo.plans import models as plans
from promo.referrals import models as referrals
from promo.reports import models as reports
from promo.webhooks import models as webhooks

__all__ = [
    "affiliates",
    "audit",
    "auth",
    "campaigns",
    "checkout",
    "code_imports",
    "codes",
    "conversions",
    "events",
    "jobs",
    "ledger",
    "metadata",
    "people",
    "plans",
    "referrals",
    "reports",
    "webhooks",
]
