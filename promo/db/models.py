"""Imports every domain's tables so that ``metadata`` is complete (alembic, tests)."""

from promo.affiliates import models as affiliates
from promo.auth import models as auth
from promo.campaigns import models as campaigns
from promo.db.metadata import metadata

__all__ = ["affiliates", "auth", "campaigns", "metadata"]
