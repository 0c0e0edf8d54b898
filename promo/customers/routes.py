"""/v1/customers (admin): a person's access and erasure requests.

The identity travels in the body of an erasure, and in the query of a lookup
(GET, as a read); promo logs neither (README, "Personal data").
"""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import JSONBody

from promo import audit
from promo.auth.guards import allow
from promo.checkout.schemas import CustomerEmailQuery, CustomerIdQuery
from promo.checkout.validation import identity_or_invalid
from promo.customers import service
from promo.customers.schemas import CustomerHoldings, CustomerIdentity, Erasure
from promo.deps import Caller, ClockDep, DbSession, KeyringDep
from promo.errors import Invalid
from promo.identity import Identity
from promo.pii import Keyring


def _identity(keyring: Keyring, customer_id: str | None, customer_email: str | None) -> Identity:
    """The person's refs; 422 when the request names nobody."""
    identity = identity_or_invalid(keyring, customer_id, customer_email)
    if not identity.refs:
        raise Invalid.field("customer_id", "give customer_id, customer_email or both")
    return identity


class CustomerController(Controller):
    path = "/v1/customers"
    tags = ["customers"]
    guards = [allow()]

    @get("/lookup")
    async def lookup(
        self,
        session: DbSession,
        keyring: KeyringDep,
        customer_id: CustomerIdQuery = None,
        customer_email: CustomerEmailQuery = None,
    ) -> CustomerHoldings:
        """What promo holds about a person (an access request): its refs, redemptions,
        counters, allow-lists and stored answers. The id and e-mail themselves are
        stored nowhere; they are hashed to be looked up."""
        return await service.lookup(session, _identity(keyring, customer_id, customer_email))

    @post("/erase", status_code=200)
    async def erase(
        self,
        data: JSONBody[CustomerIdentity],
        session: DbSession,
        keyring: KeyringDep,
        clock: ClockDep,
        principal: Caller,
    ) -> Erasure:
        """Erase a person: every ref of it becomes a tombstone, so nothing leads back
        to it while every counter, ledger entry, report and total stays as it was.
        Audited with the counts only. Erasing again changes nothing."""
        identity = _identity(keyring, data.customer_id, data.customer_email)
        erasure = await service.erase(session, identity)
        await audit.record(
            session,
            principal,
            "customer.erase",
            None,
            now=clock(),
            details=service.audit_details(erasure),
        )
        return erasure
