"""Who a customer is: the identity keys that per-customer limits and first orders count on.

A checkout may name its shopper by ``customer_id`` (a signed-in account), by
``customer_email`` (a guest), or by both. Every identity the request carries
is counted: a shopper who checks out once signed in and once as a guest with
the same e-mail uses one allowance, not two. Keys are prefixed (``id:``,
``email:``) so that an id never equals an e-mail.

E-mails are checked with ``email-validator`` (syntax only, no DNS) and then
brought to one canonical mailbox: lower-cased, any ``+tag`` dropped, and for
Gmail the dots of the local part dropped too (gmail.com and googlemail.com
are one mailbox). Used by the checkout (limits) and the affiliates (an
affiliate's own e-mail for self-referral), which is why it sits below both.
"""

from __future__ import annotations

import msgspec
from email_validator import EmailNotValidError, validate_email

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
    """The keys a shopper is known by in one request (either may be None).

    ``primary`` is what a redemption is filed under (the id when given, else
    the e-mail); ``secondary`` is the e-mail when an id was given too.
    """

    customer_id: str | None = None
    id_key: str | None = None
    email_key: str | None = None

    @property
    def primary(self) -> str | None:
        return self.id_key or self.email_key

    @property
    def secondary(self) -> str | None:
        return self.email_key if self.id_key is not None else None

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key for key in (self.id_key, self.email_key) if key is not None)

    @property
    def email(self) -> str | None:
        """The canonical e-mail, for comparing with an affiliate's."""
        return self.email_key.removeprefix("email:") if self.email_key else None


def identify(customer_id: str | None, customer_email: str | None) -> Identity:
    """The shopper's identity; ``NotAnEmail`` for an e-mail that is not an address."""
    trimmed = customer_id.strip() if customer_id is not None else ""
    email = customer_email.strip() if customer_email is not None else ""
    return Identity(
        customer_id=trimmed or None,
        id_key=f"id:{trimmed}" if trimmed else None,
        email_key=f"email:{canonical_email(email)}" if email else None,
    )
