"""Codes bound to one customer (reward, apology, win-back codes).

A bound code stores the ref (promo.pii) of its customer's id or canonical
e-mail, as the checkout's identity computes it (promo.identity), never the
text: the checkout admits a shopper whose identity has that ref among its
refs (promo.checkout.eligibility.decide), and answers the code as ``bound``
without saying to whom.
"""

from __future__ import annotations

from promo.errors import Invalid
from promo.identity import NotAnEmail, canonical_email
from promo.pii import Keyring


def customer_ref(
    keyring: Keyring,
    customer_id: str | None,
    customer_email: str | None,
    *,
    field: str = "customer_email",
) -> str | None:
    """The ref a code bound to this customer stores (None: not bound); 422 when
    both are given, or when the e-mail is no address (naming ``field``)."""
    identifier = (customer_id or "").strip()
    email = (customer_email or "").strip()
    if identifier and email:
        raise Invalid.field(field, "give customer_id or customer_email, not both")
    if identifier:
        return keyring.ref("id", identifier)
    if email:
        try:
            return keyring.ref("email", canonical_email(email))
        except NotAnEmail as exc:
            raise Invalid.field(field, f"not an e-mail address: {exc}") from None
    return None


def listed_customer_ref(keyring: Keyring, given: str, *, field: str) -> str:
    """The ref of one customer of an uploaded list: an e-mail when it holds '@',
    else a customer id."""
    if "@" in given:
        ref = customer_ref(keyring, None, given, field=field)
    else:
        ref = customer_ref(keyring, given, None, field=field)
    if ref is None:
        raise Invalid.field(field, "empty")
    return ref
