"""Reading redemptions back: one, or a page of them in id order."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.checkout.models import Redemption
from promo.codes.models import Code
from promo.errors import NotFound


async def get_redemption(session: AsyncSession, redemption_id: int | None) -> Redemption:
    found = await session.get(Redemption, redemption_id) if redemption_id is not None else None
    if found is None:
        raise NotFound("redemption_not_found", "No such redemption")
    return found


async def code_text(session: AsyncSession, code_id: int) -> str:
    text_ = await session.scalar(select(Code.code).where(Code.id == code_id))
    return str(text_)


async def list_redemptions(
    session: AsyncSession,
    *,
    order_id: str | None,
    canonical_code: str | None,
    customer_refs: tuple[str, ...] | None,
    campaign_id: int | None,
    after_id: int | None,
    limit: int,
    affiliate_id: int | None = None,
) -> list[tuple[Redemption, str]]:
    """Redemptions in id order with their code's display form; ``customer_refs``:
    those filed under any of these refs (either identity of the redemption)."""
    query = (
        select(Redemption, Code.code)
        .join(Code, Code.id == Redemption.code_id)
        .order_by(Redemption.id)
        .limit(limit)
    )
    if order_id is not None:
        query = query.where(Redemption.order_id == order_id)
    if canonical_code is not None:
        query = query.where(Code.canonical == canonical_code)
    if customer_refs is not None:
        query = query.where(
            or_(
                Redemption.customer_ref.in_(customer_refs),
                Redemption.customer_alt_ref.in_(customer_refs),
            )
        )
    if campaign_id is not None:
        query = query.where(Redemption.campaign_id == campaign_id)
    if affiliate_id is not None:
        query = query.where(Redemption.affiliate_id == affiliate_id)
    if after_id is not None:
        query = query.where(Redemption.id > after_id)
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]
