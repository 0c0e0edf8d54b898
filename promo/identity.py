"""Who a customer is: the identity keys that per-customer limits and first orders count on.

A checkout may name its shopper by ``customer_id`` (a signed-in account), by
``customer_email`` (a guest), or by both. Every identity the request carries
is counted: a shopper who checks out once signed in and once as a guest with
the same e-mail uses one allowance, not two. What is stored of either is its
ref (promo.pii, a keyed hash of ``id:<id>`` or ``email:<canonical e-mail>``,
so an id never equals an e-mail), never the text.

E-mails are checked with ``email-validator`` (syntax only, no DNS) and then
brought to one canonical mailbox: lower-cased, any ``+tag`` dropped, and for
Gmail the dots of the local part dropped too (gmail.com and googlemail.com
are one mailbox). Used by the checkout (limits) and the affiliates (an
affiliate's own e-mail for self-referral), which is why it sits below both.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec
from email_validator import EmailNotValidError, validate_email

from promo.pii import Keyring

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


class NotAnEmail(ValueError):
    """The text is not an e-mail address; the message says why."""


def canonical_email(email: str) -> str:
    """The canonical mailbox of ``email``; ``NotAnEmail`` when it is not an address."""
    try:
        # Syntax only: no DNS, and reserved names (``.test``) are not ours to police.
        checked = validate_email(email.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise NotAnEmail(str(exc)) from None
    local, domain = checked.local_part.lower(), checked.domain.lower()
    local = local.split("+", 1)[0]
    if domain in GMAIL_DOMAINS:
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"


class Identity(msgspec.Struct, frozen=True):
    """Who the shopper of one request is, as promo may store it: the refs
    (promo.pii) of its id and of its canonical e-mail, each current one first
    and then one per retired key. The canonical e-mail itself is kept for
    this request only (an affiliate's own e-mail is compared with it), and
    never written anywhere.

    ``primary`` is what a redemption is filed under (the id when given, else
    the e-mail); ``secondary`` is the e-mail when an id was given too.
    """

    id_refs: tuple[str, ...] = ()
    email_refs: tuple[str, ...] = ()
    email: str | None = None

    @property
    def _filed(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(primary's versions, secondary's versions)."""
        return (self.id_refs, self.email_refs) if self.id_refs else (self.email_refs, ())

    @property
    def primary(self) -> str | None:
        versions = self._filed[0]
        return versions[0] if versions else None

    @property
    def primary_prior(self) -> tuple[str, ...]:
        """The primary's refs under retired keys: what it did before the rotation."""
        return self._filed[0][1:]

    @property
    def secondary(self) -> str | None:
        versions = self._filed[1]
        return versions[0] if versions else None

    @property
    def secondary_prior(self) -> tuple[str, ...]:
        return self._filed[1][1:]

    @property
    def refs(self) -> tuple[str, ...]:
        """Every ref the shopper may be stored under."""
        return self.id_refs + self.email_refs


def identify(keyring: Keyring, customer_id: str | None, customer_email: str | None) -> Identity:
    """The shopper's identity; ``NotAnEmail`` for an e-mail that is not an address."""
    trimmed = customer_id.strip() if customer_id is not None else ""
    email = customer_email.strip() if customer_email is not None else ""
    canonical = canonical_email(email) if email else None
    return Identity(
        id_refs=keyring.versions("id", trimmed) if trimmed else (),
        email_refs=keyring.versions("email", canonical) if canonical else (),
        email=canonical,
    )


def customer_refs(keyring: Keyring, customer_ids: Iterable[str]) -> list[str]:
    """The current refs of customer ids (a campaign's allow-list), in order, once each."""
    refs = (keyring.ref("id", text.strip()) for text in customer_ids if text.strip())
    return list(dict.fromkeys(refs))
