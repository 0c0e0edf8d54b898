"""Codes issued to a list of customers: one unique code each, from a pattern,
bound to its customer (reward, apology, win-back mailings).

The list is a CSV upload of customer ids or e-mails, one per line, in its
first column (other columns are ignored); a first line that names the column
(``customer``, ``customer_id``, ``customer_email``, ``email``, ``id``) is a
header and is skipped. A cell holding ``@`` is an e-mail (checked and
canonicalised as at checkout), anything else a customer id. Every bad line,
and every customer listed twice, is reported by line number and nothing is
created.

The batch is a code batch like any other (promo.codes.batches: the pattern's
guessability bound, progress, a job for a large one); its rounds draw a code
for each customer still waiting (promo.codes.rounds). Each code stores its
customer's ref only. The list as given is kept beside the batch, for the
mailing tool's download (``customers.csv``: customer as given, code), sealed
(promo.pii: AES-GCM under a key derived from the PII key, so the database
never holds an e-mail in clear), until ``customers_until``
(``PROMO_RETAIN_CUSTOMER_LISTS_DAYS`` after the upload, 7 by default): then
``purge`` deletes it, and the download is refused.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.campaigns.models import Campaign
from promo.codes.batch_schemas import CustomerCodesCreate
from promo.codes.batches import create_batch
from promo.codes.binding import listed_customer_ref
from promo.codes.models import CodeBatch, CodeBatchCustomer
from promo.db.results import rows_changed
from promo.errors import FieldError, Invalid, NotFound
from promo.pii import Keyring

FIELD = "customers"
MAX_CUSTOMERS = 100_000
MAX_CELL = 254
HEADER_NAMES = frozenset({"customer", "customer_id", "customer_email", "email", "e-mail", "id"})
# Line errors listed in one refusal (the count is always given).
MAX_LISTED_ERRORS = 20
ROWS_PER_INSERT = 5_000
# What a sealed ``given`` is bound to: it opens only as a batch's customer.
SEAL_PURPOSE = b"code_batch_customers.given"


class Listed(msgspec.Struct, frozen=True):
    """One customer of the list: as given, and its ref."""

    line: int
    given: str
    ref: str


def read_list(keyring: Keyring, body: bytes) -> list[Listed]:
    """The customers of an uploaded CSV, in order; 422 naming ``customers``
    with every bad or repeated line (the first ``MAX_LISTED_ERRORS``)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid.field(FIELD, "must be UTF-8 text", "invalid_customer_list") from None
    listed: list[Listed] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise Invalid.field(FIELD, f"not CSV: {exc}", "invalid_customer_list") from None
    for number, row in enumerate(rows, start=1):
        given = row[0].strip() if row else ""
        if not given or (not listed and not problems and given.lower() in HEADER_NAMES):
            continue
        if len(given) > MAX_CELL or "\x00" in given:
            problems.append(f"line {number}: at most {MAX_CELL} characters, no NUL")
            continue
        try:
            ref = listed_customer_ref(keyring, given, field=FIELD)
        except Invalid as exc:
            problems.append(f"line {number}: {exc.errors[0].message}")
            continue
        if ref in seen:
            problems.append(f"line {number}: the same customer as line {seen[ref]}")
            continue
        seen[ref] = number
        listed.append(Listed(line=number, given=given, ref=ref))
        if len(listed) > MAX_CUSTOMERS:
            raise Invalid.field(
                FIELD, f"at most {MAX_CUSTOMERS} customers per upload", "invalid_customer_list"
            )
    if problems:
        raise Invalid(
            "invalid_customer_list",
            f"{len(problems)} line(s) of the customer list cannot be used: "
            + "; ".join(problems[:3]),
            errors=[FieldError(FIELD, problem) for problem in problems[:MAX_LISTED_ERRORS]],
            extra={"invalid_lines": len(problems)},
        )
    if not listed:
        raise Invalid.field(FIELD, "no customer in the list", "invalid_customer_list")
    return listed


async def create_customer_batch(
    session: AsyncSession,
    campaign: Campaign,
    customers: list[Listed],
    data: CustomerCodesCreate,
    *,
    keyring: Keyring,
    max_guess_ratio: float,
    keep_list_days: int,
    now: datetime,
) -> CodeBatch:
    """A pending batch of one code per customer, with its list (sealed) beside it."""
    batch = await create_batch(
        session,
        campaign,
        pattern=data.pattern,
        charset=data.charset,
        count=len(customers),
        max_redemptions_per_code=data.max_redemptions_per_code,
        affiliate_id=None,
        max_guess_ratio=max_guess_ratio,
        now=now,
        valid_for=data.valid_for,
        expires_at=data.expires_at,
        customers_until=now + timedelta(days=keep_list_days),
    )
    rows = [
        {"batch_id": batch.id, "customer_ref": c.ref, "given": keyring.seal(c.given, SEAL_PURPOSE)}
        for c in customers
    ]
    for start in range(0, len(rows), ROWS_PER_INSERT):
        await session.execute(insert(CodeBatchCustomer), rows[start : start + ROWS_PER_INSERT])
    return batch


def check_list_available(batch: CodeBatch, now: datetime) -> None:
    """404 unless the batch was issued to customers and its list is still kept."""
    if batch.customers_until is None:
        raise NotFound("customer_list_not_found", "This batch was not issued to customers")
    if now >= batch.customers_until:
        raise NotFound(
            "customer_list_purged",
            f"The customer list was kept until {batch.customers_until.isoformat()} and is "
            "deleted; the codes stay bound to their customers",
            extra={"customers_until": batch.customers_until.isoformat()},
        )


async def purge(session: AsyncSession, *, now: datetime) -> int:
    """Delete the lists (ids and e-mails as given) whose download window is over;
    how many customers' rows went. Their codes keep their refs."""
    expired = select(CodeBatch.id).where(CodeBatch.customers_until <= now)
    return rows_changed(
        await session.execute(
            delete(CodeBatchCustomer).where(CodeBatchCustomer.batch_id.in_(expired))
        )
    )
