"""Who the customer is, for per-customer limits, first orders and self-referral.

One rule: the checkout's ``customer_id`` when given, else the canonical
e-mail: trimmed, lower-cased, any ``+tag`` dropped, and for Gmail addresses
the dots of the local part dropped too (gmail.com and googlemail.com are one
mailbox). The prefixes keep an id from ever equalling an e-mail.
"""

from __future__ import annotations

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


def canonical_email(email: str) -> str:
    address = email.strip().lower()
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    local = local.split("+", 1)[0]
    if domain in GMAIL_DOMAINS:
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"


def customer_key(customer_id: str | None, customer_email: str | None) -> str | None:
    if customer_id is not None and customer_id.strip():
        return f"id:{customer_id.strip()}"
    if customer_email is not None and customer_email.strip():
        return f"email:{canonical_email(customer_email)}"
    return None
