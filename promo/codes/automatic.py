"""An automatic promotion's one code: what its uses are counted on.

An automatic promotion (a campaign with ``automatic``) applies without a code,
but the checkout core counts every use on a code (its ``code`` step, the
redemption's ``code_id``, the reports by code), so each automatic campaign
has one code of kind ``automatic``, made with the campaign. It is displayed
``AUTOMATIC`` (what a redemption's ``code`` says) and its canonical form is
``*`` and the campaign's public id: canonical forms of typed text are letters
and digits only (promo.codes.canonical), so no shopper can type it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from promo.campaigns.service import MakeAutomaticCode
from promo.codes.models import Code
from promo.codes.service import insert_code
from promo.ids import Kind, encode

DISPLAY = "AUTOMATIC"
KIND = "automatic"


def automatic_form(campaign_id: int) -> str:
    """The canonical form of a campaign's automatic code (never a typed one's)."""
    return "*" + encode(Kind.CAMPAIGN, campaign_id)


async def create_automatic_code(session: AsyncSession, campaign_id: int, now: datetime) -> Code:
    """The automatic campaign's one code, unlimited (the campaign's limits apply);
    the campaigns' ``automatic_code`` dependency (promo.campaigns.service)."""
    code = await insert_code(
        session,
        campaign_id=campaign_id,
        text=DISPLAY,
        form=automatic_form(campaign_id),
        kind=KIND,
        max_redemptions=None,
        affiliate_id=None,
        now=now,
    )
    if code is None:
        raise AssertionError("an automatic code's form is the campaign's own")
    return code


def provide_automatic_code() -> MakeAutomaticCode:
    """The ``automatic_code`` dependency of the campaigns' create route and form."""
    return create_automatic_code
