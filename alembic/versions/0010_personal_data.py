"""personal data: customer identities are stored as refs (keyed hashes, promo.pii), never in clear

The previous version stored who a customer is as text: ``id:cus_42``,
``email:ana@example.com``. Each such value becomes its ref under the
operator's current PII key, ``keyring.current.ref_of(text)``: exactly what the
new checkout computes for the same shopper (``Keyring.ref("id", "cus_42")``),
so limits and first orders keep counting what was redeemed before.

- redemptions: customer_key -> customer_ref, customer_alt_key -> customer_alt_ref
  (indexed now, like customer_ref); customer_id, the id in clear, is dropped
  (customer_ref holds its ref when the checkout gave one).
- customer_usage, customer_orders: customer_key -> customer_ref.
- campaigns.rules: the allow-list ``customer_ids`` becomes ``customer_refs``
  (promo.identity.customer_refs: trimmed, once each, in order).
- audit_log.details of campaign.create and campaign.update: the same in their
  ``rules``.
- idempotency_keys.response_body: a stored answer naming a customer (a
  redemption, as redeemed, rolled back or refunded) says ``customer_ref`` where
  it said ``customer_key``, at the same place, and no longer has ``customer_id``;
  re-encoded compactly, as msgspec writes answers. Any other body (a refusal,
  a ledger adjustment, a payout run, or not JSON at all) is left byte for byte.

The key comes from ``promo db upgrade`` (the settings' PROMO_PII_KEY and
PROMO_PII_RETIRED_KEYS), or from those variables under the plain ``alembic``
command (promo.db.migrate.keyring_of). Upgrade with the key the service will
run with: refs made under another one match no shopper, and every past
customer would start over (a retired key cannot help: the new refs are written
with the current one).

A value that is a ref of the keyring already (or a tombstone) is kept as it
is: that is what a downgrade leaves under the old names, and an upgrade
after it must not hash it twice. (Refs under a key whose id is ``id`` or
``email`` cannot be told from the previous version's texts, and would be.)

Rows are converted 1,000 at a time in primary-key order, so no table is read
into memory whole; all of it happens in the migration's transaction.

Downgrade restores the previous schema (the columns under their old names,
customer_id back as NULL, the old indexes and unique constraint,
``customer_ids`` in rules, ``customer_key`` and ``customer_id`` in stored
answers), but not the identities: a ref is a keyed hash and cannot be turned
back into the id or e-mail it was made from. The old columns and lists hold
the refs, which the previous version never computes: after a downgrade it
counts every past customer as new (per-customer limits and first orders start
over), and a campaign restricted to customer ids admits nobody until its list
is entered again. Audit details keep their ``customer_refs``: they are the
record of what was asked, and the previous version only displays them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 15:00:00.000000
"""

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.engine import Connection, Row

from promo.db.migrate import keyring_of
from promo.identity import customer_refs
from promo.pii import REF_PATTERN, Keyring, is_tombstone

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
CAMPAIGN_ACTIONS = ("campaign.create", "campaign.update")

redemptions = sa.table(
    "redemptions",
    sa.column("id", sa.BigInteger()),
    sa.column("customer_ref", sa.String()),
    sa.column("customer_alt_ref", sa.String()),
)
usage = sa.table(
    "customer_usage",
    sa.column("id", sa.BigInteger()),
    sa.column("campaign_id", sa.BigInteger()),
    sa.column("customer_ref", sa.String()),
    sa.column("used", sa.Integer()),
)
orders = sa.table(
    "customer_orders",
    sa.column("customer_key", sa.String()),
    sa.column("customer_ref", sa.String()),
    sa.column("live", sa.Integer()),
)
campaigns = sa.table("campaigns", sa.column("id", sa.BigInteger()), sa.column("rules", sa.JSON()))
audit_log = sa.table(
    "audit_log",
    sa.column("id", sa.BigInteger()),
    sa.column("action", sa.String()),
    sa.column("details", sa.JSON()),
)
answers = sa.table(
    "idempotency_keys",
    sa.column("id", sa.BigInteger()),
    sa.column("response_body", sa.LargeBinary()),
)

Ref = Callable[[str | None], str | None]
REF = re.compile(REF_PATTERN)
# The previous version's texts start so: a ref under a key of that id is not
# told apart from one of them, and is hashed like them.
OLD_PREFIXES = ("id", "email")


def _is_ref(keyring: Keyring, text: str) -> bool:
    """Already a ref of this keyring (or a tombstone): what a downgrade leaves
    under the old names, which an upgrade after it must not hash twice."""
    key_id = text.partition(":")[0]
    known = {keyring.current.key_id, *(key.key_id for key in keyring.retired)}
    return bool(REF.match(text)) and (
        is_tombstone(text) or (key_id in known and key_id not in OLD_PREFIXES)
    )


def _refs(keyring: Keyring) -> Ref:
    """The ref of a stored identity text (``id:...``, ``email:...``); NULL stays NULL."""

    def ref(text: str | None) -> str | None:
        if not isinstance(text, str):
            return None
        return text if _is_ref(keyring, text) else keyring.current.ref_of(text)

    return ref


def _allow_list(keyring: Keyring, ids: list[Any]) -> list[str]:
    """The refs of a campaign's customer ids (promo.identity.customer_refs: trimmed,
    once each, in order); refs a downgrade left in the list stay as they are."""
    refs: list[str] = []
    for text in map(str, ids):
        refs.extend(
            [text.strip()] if _is_ref(keyring, text.strip()) else customer_refs(keyring, [text])
        )
    return list(dict.fromkeys(refs))


def _batches(
    connection: Connection, key: Any, *columns: Any, where: Any = None
) -> Iterator[list[Row[Any]]]:
    """The rows of ``key``'s table, ``BATCH`` at a time, in ``key`` order; ``key``
    must not change meanwhile (each batch is read whole before it is handed out)."""
    after = None
    while True:
        query = sa.select(key, *columns).order_by(key).limit(BATCH)
        if where is not None:
            query = query.where(where)
        if after is not None:
            query = query.where(key > after)
        rows = list(connection.execute(query).all())
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def _update_by(connection: Connection, table: Any, key: str, params: list[dict[str, Any]]) -> None:
    """One UPDATE per row of ``params`` (``{"k": key value, <column>: value}``), sent
    as one executemany."""
    if not params:
        return
    names = [name for name in params[0] if name != "k"]
    connection.execute(
        sa.update(table)
        .where(table.c[key] == sa.bindparam("k"))
        .values({name: sa.bindparam(f"v_{name}") for name in names}),
        [{"k": p["k"], **{f"v_{name}": p[name] for name in names}} for p in params],
    )


# The JSON documents: rules (campaigns, audit details) and stored answers.


def _renamed(document: dict[str, Any], old: str, new: str, value: Any) -> dict[str, Any]:
    """``document`` with the key ``old`` replaced, at its place, by ``new``: ``value``."""
    return {
        (new if name == old else name): (value if name == old else v)
        for name, v in document.items()
    }


def _rules_with_refs(rules: Any, keyring: Keyring) -> Any:
    """Rules whose ``customer_ids`` became ``customer_refs``; others as they are."""
    if not isinstance(rules, dict) or "customer_ids" not in rules:
        return rules
    ids = rules["customer_ids"]
    # A list (campaigns, creations); null in a patch (the list cleared) stays null.
    refs = _allow_list(keyring, ids) if isinstance(ids, list) else None
    return _renamed(rules, "customer_ids", "customer_refs", refs)


def _rules_with_ids(rules: Any) -> Any:
    if not isinstance(rules, dict) or "customer_refs" not in rules:
        return rules
    return _renamed(rules, "customer_refs", "customer_ids", rules["customer_refs"])


def _new_answer(value: Any, ref: Ref) -> Any:
    """An answer with each ``customer_key`` replaced by ``customer_ref`` (in place)
    and ``customer_id`` gone, at any depth (a redemption may be nested)."""
    if isinstance(value, list):
        return [_new_answer(item, ref) for item in value]
    if not isinstance(value, dict):
        return value
    result: dict[str, Any] = {}
    for name, item in value.items():
        if name == "customer_key":
            result["customer_ref"] = ref(item)
        elif name != "customer_id":
            result[name] = _new_answer(item, ref)
    return result


def _old_answer(value: Any) -> Any:
    """The inverse shape: ``customer_key`` (holding the ref) and ``customer_id`` null."""
    if isinstance(value, list):
        return [_old_answer(item) for item in value]
    if not isinstance(value, dict):
        return value
    result: dict[str, Any] = {}
    for name, item in value.items():
        if name == "customer_ref":
            result["customer_key"] = item
            result["customer_id"] = None
        else:
            result[name] = _old_answer(item)
    return result


def _rewrite_answers(
    connection: Connection, markers: tuple[bytes, ...], rewrite: Callable[[Any], Any]
) -> None:
    """Re-encode the stored answers that ``rewrite`` changes; only bodies that
    mention one of ``markers`` are decoded, and only changed ones are written."""
    for rows in _batches(
        connection,
        answers.c.id,
        answers.c.response_body,
        where=answers.c.response_body.is_not(None),
    ):
        changed = []
        for row in rows:
            body = bytes(row.response_body)
            if not any(marker in body for marker in markers):
                continue
            try:
                document = msgspec.json.decode(body)
            except msgspec.DecodeError:
                continue
            rewritten = rewrite(document)
            if rewritten != document:
                changed.append({"k": row.id, "response_body": msgspec.json.encode(rewritten)})
        _update_by(connection, answers, "id", changed)


def _rewrite_json(
    connection: Connection,
    table: Any,
    column: str,
    rewrite: Callable[[Any], Any],
    where: Any = None,
) -> None:
    for rows in _batches(connection, table.c.id, table.c[column], where=where):
        changed = []
        for row in rows:
            document = row._mapping[column]
            rewritten = rewrite(document)
            if rewritten != document:
                changed.append({"k": row.id, column: rewritten})
        _update_by(connection, table, "id", changed)


def _details_with_refs(details: Any, keyring: Keyring) -> Any:
    if not isinstance(details, dict) or not isinstance(details.get("rules"), dict):
        return details
    return {**details, "rules": _rules_with_refs(details["rules"], keyring)}


# The tables.


def _convert_redemptions(connection: Connection, ref: Ref) -> None:
    for rows in _batches(
        connection, redemptions.c.id, redemptions.c.customer_ref, redemptions.c.customer_alt_ref
    ):
        _update_by(
            connection,
            redemptions,
            "id",
            [
                {
                    "k": row.id,
                    "customer_ref": ref(row.customer_ref),
                    "customer_alt_ref": ref(row.customer_alt_ref),
                }
                for row in rows
                if row.customer_ref is not None or row.customer_alt_ref is not None
            ],
        )


def _convert_usage(connection: Connection, ref: Ref) -> None:
    for rows in _batches(connection, usage.c.id, usage.c.customer_ref):
        _update_by(
            connection,
            usage,
            "id",
            [{"k": row.id, "customer_ref": ref(row.customer_ref)} for row in rows],
        )


def _merge_duplicates(
    connection: Connection, table: Any, key: str, identity: tuple[str, ...], count: str
) -> None:
    """One row per ``identity`` (its first by ``key``), holding the sum of ``count``.

    Never the case on a database the previous version filled from the start;
    but after a downgrade, it files a returning customer anew under the clear
    text, which becomes the ref the customer is already filed under.
    """
    columns = [table.c[name] for name in identity]
    twice = connection.execute(
        sa.select(*columns).group_by(*columns).having(sa.func.count() > 1)
    ).all()
    for shared in twice:
        rows = connection.execute(
            sa.select(table.c[key], table.c[count])
            .where(*(column == value for column, value in zip(columns, shared, strict=True)))
            .order_by(table.c[key])
        ).all()
        keep, *others = rows
        connection.execute(
            sa.update(table)
            .where(table.c[key] == keep[0])
            .values({count: sum(row[1] for row in rows)})
        )
        connection.execute(sa.delete(table).where(table.c[key].in_([row[0] for row in others])))


def _fill_orders(connection: Connection, ref: Ref) -> None:
    """customer_ref beside customer_key, the primary key, which stays as it is until
    every row is done (updating a key in place would make the batches skip or
    revisit rows)."""
    for rows in _batches(connection, orders.c.customer_key):
        _update_by(
            connection,
            orders,
            "customer_key",
            [{"k": row.customer_key, "customer_ref": ref(row.customer_key)} for row in rows],
        )


def upgrade() -> None:
    if context.is_offline_mode():
        raise RuntimeError("0010 converts stored identities: it cannot run as --sql")
    keyring = keyring_of(context.config)
    ref = _refs(keyring)
    connection = op.get_bind()

    # Indexes go first and come back after the conversion: every row is rewritten.
    op.drop_index(op.f("ix_redemptions_customer_key"), table_name="redemptions")
    with op.batch_alter_table("redemptions") as batch:
        batch.alter_column(
            "customer_key",
            new_column_name="customer_ref",
            existing_type=sa.String(length=400),
            existing_nullable=True,
        )
        batch.alter_column(
            "customer_alt_key",
            new_column_name="customer_alt_ref",
            existing_type=sa.String(length=400),
            existing_nullable=True,
        )
        batch.drop_column("customer_id")
    _convert_redemptions(connection, ref)
    op.create_index(
        op.f("ix_redemptions_customer_ref"), "redemptions", ["customer_ref"], unique=False
    )
    op.create_index(
        op.f("ix_redemptions_customer_alt_ref"), "redemptions", ["customer_alt_ref"], unique=False
    )

    op.drop_index(op.f("ix_customer_usage_customer_key"), table_name="customer_usage")
    with op.batch_alter_table("customer_usage") as batch:
        batch.drop_constraint(op.f("uq_customer_usage_campaign_id_customer_key"), type_="unique")
        batch.alter_column(
            "customer_key",
            new_column_name="customer_ref",
            existing_type=sa.String(length=400),
            existing_nullable=False,
        )
    _convert_usage(connection, ref)
    _merge_duplicates(connection, usage, "id", ("campaign_id", "customer_ref"), "used")
    with op.batch_alter_table("customer_usage") as batch:
        batch.create_unique_constraint(
            op.f("uq_customer_usage_campaign_id_customer_ref"), ["campaign_id", "customer_ref"]
        )
    op.create_index(
        op.f("ix_customer_usage_customer_ref"), "customer_usage", ["customer_ref"], unique=False
    )

    op.add_column(
        "customer_orders", sa.Column("customer_ref", sa.String(length=400), nullable=True)
    )
    _fill_orders(connection, ref)
    _merge_duplicates(connection, orders, "customer_key", ("customer_ref",), "live")
    with op.batch_alter_table("customer_orders") as batch:
        batch.drop_constraint(op.f("pk_customer_orders"), type_="primary")
        batch.drop_column("customer_key")
        batch.alter_column("customer_ref", existing_type=sa.String(length=400), nullable=False)
        batch.create_primary_key(op.f("pk_customer_orders"), ["customer_ref"])

    _rewrite_json(connection, campaigns, "rules", lambda rules: _rules_with_refs(rules, keyring))
    _rewrite_json(
        connection,
        audit_log,
        "details",
        lambda details: _details_with_refs(details, keyring),
        where=audit_log.c.action.in_(CAMPAIGN_ACTIONS),
    )
    _rewrite_answers(
        connection, (b'"customer_key"', b'"customer_id"'), lambda body: _new_answer(body, ref)
    )


def downgrade() -> None:
    connection = op.get_bind()
    _rewrite_answers(connection, (b'"customer_ref"',), _old_answer)
    _rewrite_json(connection, campaigns, "rules", _rules_with_ids)

    with op.batch_alter_table("customer_orders") as batch:
        batch.alter_column(
            "customer_ref",
            new_column_name="customer_key",
            existing_type=sa.String(length=400),
            existing_nullable=False,
        )

    op.drop_index(op.f("ix_customer_usage_customer_ref"), table_name="customer_usage")
    with op.batch_alter_table("customer_usage") as batch:
        batch.drop_constraint(op.f("uq_customer_usage_campaign_id_customer_ref"), type_="unique")
        batch.alter_column(
            "customer_ref",
            new_column_name="customer_key",
            existing_type=sa.String(length=400),
            existing_nullable=False,
        )
    # Its own batch: on SQLite, a constraint on a column renamed in the same
    # batch is silently left out of the rebuilt table.
    with op.batch_alter_table("customer_usage") as batch:
        batch.create_unique_constraint(
            op.f("uq_customer_usage_campaign_id_customer_key"), ["campaign_id", "customer_key"]
        )
    op.create_index(
        op.f("ix_customer_usage_customer_key"), "customer_usage", ["customer_key"], unique=False
    )

    op.drop_index(op.f("ix_redemptions_customer_alt_ref"), table_name="redemptions")
    op.drop_index(op.f("ix_redemptions_customer_ref"), table_name="redemptions")
    with op.batch_alter_table("redemptions") as batch:
        batch.alter_column(
            "customer_ref",
            new_column_name="customer_key",
            existing_type=sa.String(length=400),
            existing_nullable=True,
        )
        batch.alter_column(
            "customer_alt_ref",
            new_column_name="customer_alt_key",
            existing_type=sa.String(length=400),
            existing_nullable=True,
        )
        batch.add_column(sa.Column("customer_id", sa.String(length=128), nullable=True))
    op.create_index(
        op.f("ix_redemptions_customer_key"), "redemptions", ["customer_key"], unique=False
    )
