"""A campaign as the API answers it (the JSON routes and the events)."""

from __future__ import annotations

from promo.campaigns import service
from promo.campaigns.models import Campaign
from promo.campaigns.schemas import CampaignRead, Usage
from promo.ids import Kind, encode


def campaign_read(campaign: Campaign) -> CampaignRead:
    return CampaignRead(
        id=encode(Kind.CAMPAIGN, campaign.id),
        name=campaign.name,
        kind=campaign.kind,  # type: ignore[arg-type]
        status=campaign.status,  # type: ignore[arg-type]
        currency=campaign.currency,
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        timezone=campaign.timezone,
        code_prefix=campaign.code_prefix,
        open_to_affiliates=campaign.open_to_affiliates,
        affiliate_aliases=campaign.affiliate_aliases,
        max_aliases_per_affiliate=campaign.max_aliases_per_affiliate,
        discount=service.discount_of(campaign),
        rules=service.rules_of(campaign),
        limits=service.limits_of(campaign),
        commission=service.commission_of(campaign),
        stacking=service.stacking_of(campaign),
        automatic=campaign.automatic,
        referral=service.referral_of(campaign),
        usage=Usage(redemptions=campaign.redemptions_used, budget_used=campaign.budget_used),
        created_at=campaign.created_at,
        updated_at=campaign.updated_at,
    )
