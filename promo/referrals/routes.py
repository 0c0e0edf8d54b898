"""/v1/referrals (checkout, on the referrer's behalf): a referrer's code, and its friends."""

from __future__ import annotations

from litestar import Controller, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.auth.guards import allow
from promo.auth.roles import Role
from promo.checkout.models import Redemption
from promo.codes.models import Code
from promo.codes.service import canonical_or_invalid
from promo.deps import ClockDep, DbSession, KeyringDep
from promo.errors import NotFound
from promo.ids import Kind, encode
from promo.referrals import service
from promo.referrals.models import ReferralReward, Referrer
from promo.referrals.schemas import Friend, ReferralCreate, ReferralRead, ReferralStatus

FRIENDS_SHOWN = 500


def referral_read(referrer: Referrer, code: Code) -> ReferralRead:
    return ReferralRead(
        code=code.code,
        campaign_id=encode(Kind.CAMPAIGN, referrer.campaign_id),
        customer_ref=referrer.customer_ref,
        created_at=referrer.created_at,
    )


async def status_of(session: AsyncSession, text: str) -> ReferralStatus:
    """A referrer's friends who ordered with its code, and its rewards: a friend's
    order is ``pending`` until the reward job settles it, once it has stood for
    the program's holding period."""
    found = await session.scalars(
        select(Code).where(Code.canonical == canonical_or_invalid(text), Code.kind == "referral")
    )
    code = found.first()
    referrer = (
        (await session.scalars(select(Referrer).where(Referrer.code_id == code.id))).first()
        if code is not None
        else None
    )
    if code is None or referrer is None:
        raise NotFound("referral_not_found", "No referral code is spelled so")
    rows = await session.execute(
        select(Redemption, ReferralReward)
        .outerjoin(ReferralReward, ReferralReward.redemption_id == Redemption.id)
        .where(Redemption.code_id == code.id)
        .order_by(Redemption.id)
        .limit(FRIENDS_SHOWN)
    )
    friends = []
    for red, reward in rows.all():
        if reward is not None:
            status = "rewarded" if reward.kind != "none" else "not_rewarded"
        elif red.rolled_back_at is not None:
            status = "rolled_back"
        else:
            status = "pending"
        friends.append(
            Friend(
                redemption_id=encode(Kind.REDEMPTION, red.id),
                ordered_at=red.created_at,
                status=status,  # type: ignore[arg-type]
            )
        )
    return ReferralStatus(
        code=code.code,
        campaign_id=encode(Kind.CAMPAIGN, referrer.campaign_id),
        friends=friends,
        rewards_earned=sum(f.status == "rewarded" for f in friends),
        rewards_pending=sum(f.status == "pending" for f in friends),
    )


class ReferralController(Controller):
    path = "/v1/referrals"
    tags = ["referrals"]
    guards = [allow(Role.CHECKOUT)]

    @post("/", status_code=201)
    async def create_referral(
        self,
        data: JSONBody[ReferralCreate],
        session: DbSession,
        state: State,
        keyring: KeyringDep,
        clock: ClockDep,
    ) -> Response[ReferralRead]:
        """The referrer's personal code on the program: 201 the first time, 200 with
        the same code afterwards (also under concurrent first requests)."""
        referrer, code, created = await service.enroll(
            session, data, keyring=keyring, secret=state.settings.secret, now=clock()
        )
        return Response(referral_read(referrer, code), status_code=201 if created else 200)

    @get("/{code:str}")
    async def get_referral(self, code: FromPath[str], session: DbSession) -> ReferralStatus:
        """The friends who ordered with a referrer's code and its rewards, earned and
        pending (no customer data)."""
        return await status_of(session, code)
