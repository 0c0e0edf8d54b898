"""Migration 0010 (personal data): a database the previous version filled ends up
holding refs only, each the one the new code computes, and a service started
on it still knows who used what.

The database is brought to 0009 and filled with SQL as the previous version
wrote it (identities in clear: ``id:cus_42``, ``email:ana@example.com``, a
campaign allow-list of customer ids, a stored redemption answer naming its
customer), then upgraded. Synchronous like test_migrations (alembic runs its
own event loop); the service part runs in a loop of its own.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import bindparam, inspect, text
from sqlalchemy.engine import Connection

from promo.app import create_app
from promo.auth.keys import display_prefix, hash_key
from promo.codes.canonical import canonical
from promo.db import migrate
from promo.db.autocommit import AsyncpgAutocommit
from promo.db.engine import create_engine
from promo.db.metadata import UtcDateTime
from promo.ids import Kind, encode
from promo.pii import Keyring
from promo.settings import Settings
from tests.conftest import make_settings
from tests.contract.test_migrations import current_heads, head_revisions, run_sync
from tests.support.api import cart, item
from tests.support.clock import FrozenClock

PII_KEY = "k1:migration-test-pii-key-0123456789abcdef"
CHECKOUT_KEY = "pk_migration-test-checkout-key-0123456789abcdef"
MARKETER_KEY = "pk_migration-test-marketer-key-0123456789abcdef"
NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
# Every identity the previous version held in clear; none may survive anywhere.
CLEAR = ("cus_42", "cus_43", "cus_44", "ana@example.com", "bob@example.com")
VIP_IDS = ["cus_42", " cus_43 ", "cus_42"]
SHIRTS = cart(item("TSHIRT-1", 2, 2500, "summer"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'personal_data.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    return make_settings(url, pii_key=PII_KEY)


def insert(connection: Connection, table: str, **values: Any) -> int:
    """One row as the previous version wrote it (JSON as text); its id."""
    names = list(values)
    statement = text(
        f"INSERT INTO {table} ({', '.join(names)}) "  # noqa: S608 (names are ours)
        f"VALUES ({', '.join(':' + name for name in names)}) RETURNING id"
    ).bindparams(
        *(bindparam(n, type_=UtcDateTime()) for n, v in values.items() if isinstance(v, datetime))
    )
    return int(connection.execute(statement, values).scalar_one())


def old_redemption_answer(red_id: int, code: str, campaign_id: int, **customer: Any) -> bytes:
    """A RedemptionRead as the previous version encoded it (customer_key, customer_id)."""
    return msgspec.json.encode(
        {
            "id": encode(Kind.REDEMPTION, red_id),
            "code": code,
            "campaign_id": encode(Kind.CAMPAIGN, campaign_id),
            "affiliate_id": None,
            "customer_key": customer["customer_key"],
            "customer_id": customer["customer_id"],
            "order_id": customer["order_id"],
            "currency": "EUR",
            "order_amount": 4500,
            "discount": {
                "total": 500,
                "shipping": 0,
                "lines": [{"line_id": "0", "sku": "TSHIRT-1", "amount": 500}],
            },
            "commission": 0,
            "refunded_amount": 0,
            "status": "active",
            "created_at": "2026-06-15T10:00:00Z",
            "rolled_back_at": None,
        }
    )


def fill(connection: Connection) -> dict[str, Any]:
    """The previous version's rows; the ids and bodies the test checks against."""
    key_ids = {
        role: insert(
            connection,
            "api_keys",
            role=role,
            name=f"{role} key",
            prefix=display_prefix(plaintext),
            secret_hash=hash_key(plaintext),
            created_at=NOW - timedelta(days=60),
        )
        for role, plaintext in (("marketer", MARKETER_KEY), ("checkout", CHECKOUT_KEY))
    }
    start = datetime(2026, 1, 1, tzinfo=UTC)
    campaign = {
        "status": "active",
        "currency": "EUR",
        "starts_at": start,
        "open_to_affiliates": False,
        "discount_type": "percentage",
        "percent_off": 10,
        "max_redemptions_per_customer": 1,
        "budget_used": 500,
        "created_at": start,
        "updated_at": start,
    }
    vip_rules = {"exclude_skus": ["GIFT-CARD"], "customer_ids": VIP_IDS}
    open_rules = {"exclude_skus": ["GIFT-CARD"], "min_quantity": 1}
    vip = insert(
        connection,
        "campaigns",
        name="VIP",
        rules=json.dumps(vip_rules),
        redemptions_used=1,
        **campaign,
    )
    open_ = insert(
        connection,
        "campaigns",
        name="Open",
        rules=json.dumps(open_rules),
        redemptions_used=2,
        **campaign,
    )
    code = {"kind": "vanity", "active": True, "live": True, "created_at": start}
    vip_code = insert(
        connection,
        "codes",
        campaign_id=vip,
        code="VIP-1",
        canonical=canonical("VIP-1"),
        used=1,
        **code,
    )
    open_code = insert(
        connection,
        "codes",
        campaign_id=open_,
        code="OPEN-1",
        canonical=canonical("OPEN-1"),
        used=2,
        **code,
    )
    redemption = {
        "currency": "EUR",
        "order_amount": 4500,
        "discount_total": 500,
        "discount_shipping": 0,
        "discount_lines": json.dumps([{"line_id": "0", "sku": "TSHIRT-1", "amount": 500}]),
        "commission": 0,
        "commission_fixed": 0,
        "refunded_amount": 0,
        "budget_returned": 0,
        "created_at": datetime(2026, 6, 15, 10, 0, tzinfo=UTC),
    }
    # By id and e-mail; by e-mail only; without a customer (before the limit existed).
    by_both = insert(
        connection,
        "redemptions",
        code_id=vip_code,
        campaign_id=vip,
        customer_key="id:cus_42",
        customer_alt_key="email:ana@example.com",
        customer_id="cus_42",
        order_id="order-1",
        **redemption,
    )
    by_email = insert(
        connection,
        "redemptions",
        code_id=open_code,
        campaign_id=open_,
        customer_key="email:bob@example.com",
        order_id="order-2",
        **redemption,
    )
    anonymous = insert(
        connection,
        "redemptions",
        code_id=open_code,
        campaign_id=open_,
        order_id="order-3",
        **redemption,
    )
    for campaign_id, key in (
        (vip, "id:cus_42"),
        (vip, "email:ana@example.com"),
        (open_, "email:bob@example.com"),
    ):
        insert(connection, "customer_usage", campaign_id=campaign_id, customer_key=key, used=1)
    for key in ("id:cus_42", "email:ana@example.com", "email:bob@example.com"):
        connection.execute(
            text("INSERT INTO customer_orders (customer_key, live) VALUES (:key, 1)"), {"key": key}
        )
    insert(
        connection,
        "ledger_entries",
        created_at=redemption["created_at"],
        kind="redemption",
        redemption_id=by_both,
        order_id="order-1",
        code="VIP-1",
        campaign_id=vip,
        currency="EUR",
        order_amount=4500,
        discount=500,
        commission=0,
        available_at=redemption["created_at"],
    )

    bodies = {
        "by_both": old_redemption_answer(
            by_both,
            "VIP-1",
            vip,
            customer_key="id:cus_42",
            customer_id="cus_42",
            order_id="order-1",
        ),
        "by_email": old_redemption_answer(
            by_email,
            "OPEN-1",
            open_,
            customer_key="email:bob@example.com",
            customer_id=None,
            order_id="order-2",
        ),
        # Untouched: a refusal, a ledger adjustment, a body that is not JSON
        # (though it mentions customer_id), and one without a body.
        "refusal": msgspec.json.encode(
            {
                "status": 409,
                "type": "about:blank",
                "title": "Conflict",
                "detail": "This customer has already used this promotion.",
                "code": "customer_limit_reached",
                "reason": "customer_limit_reached",
            }
        ),
        "adjustment": b'{"id":"ent_1","kind":"adjustment","commission":500,"note":"bonus"}',
        "not_json": b'\x00\xff "customer_id": not JSON',
    }
    bodies["nested"] = b'{"items":[' + bodies["by_both"] + b'],"next_cursor":null}'
    answer_ids = {}
    for index, (name, body) in enumerate(bodies.items()):
        status = 409 if name == "refusal" else 201
        answer_ids[name] = insert(
            connection,
            "idempotency_keys",
            scope=f"redeem:{key_ids['checkout']}",
            key=f"key-{index}",
            request_hash=f"{index:064x}",
            status_code=status,
            response_body=body,
            created_at=NOW - timedelta(hours=1),
            completed_at=NOW - timedelta(hours=1),
        )
    answer_ids["pending"] = insert(
        connection,
        "idempotency_keys",
        scope="payouts:1",
        key="key-pending",
        request_hash="f" * 64,
        created_at=NOW - timedelta(hours=1),
    )

    audit = {"key_id": key_ids["marketer"], "role": "marketer", "at": NOW - timedelta(days=30)}
    created = insert(
        connection,
        "audit_log",
        action="campaign.create",
        target=encode(Kind.CAMPAIGN, vip),
        details=json.dumps(
            {"name": "VIP", "rules": vip_rules, "limits": {"max_redemptions_per_customer": 1}}
        ),
        **audit,
    )
    updated = insert(
        connection,
        "audit_log",
        action="campaign.update",
        target=encode(Kind.CAMPAIGN, vip),
        details=json.dumps({"rules": {"customer_ids": ["cus_44"], "min_quantity": 1}}),
        **audit,
    )
    cleared = insert(
        connection,
        "audit_log",
        action="campaign.update",
        target=encode(Kind.CAMPAIGN, open_),
        details=json.dumps({"rules": {"customer_ids": None}}),
        **audit,
    )
    other = insert(
        connection,
        "audit_log",
        action="code.create",
        target="OPEN-1",
        details=json.dumps({"code": "OPEN-1"}),
        **audit,
    )
    connection.commit()
    return {
        "campaigns": {"vip": vip, "open": open_},
        "open_rules": open_rules,
        "redemptions": {"by_both": by_both, "by_email": by_email, "anonymous": anonymous},
        "bodies": bodies,
        "answers": answer_ids,
        "audit": {"created": created, "updated": updated, "cleared": cleared, "other": other},
    }


def every_value(connection: Connection) -> list[tuple[str, str, str]]:
    """(table, column, value as text) for every column of every row of every table."""
    found = []
    for table in inspect(connection).get_table_names():
        result = connection.execute(text(f"SELECT * FROM {table}"))  # noqa: S608 (reflected)
        columns = list(result.keys())
        for row in result:
            for column, value in zip(columns, row, strict=True):
                if isinstance(value, bytes | memoryview):
                    shown = bytes(value).decode("utf-8", errors="replace")
                elif isinstance(value, dict | list):
                    shown = json.dumps(value)
                else:
                    shown = str(value)
                found.append((table, column, shown))
    return found


def clear_values(settings: Settings) -> list[tuple[str, str, str]]:
    """Every (table, column, value) that holds one of the identities in clear."""
    return [
        (table, column, value)
        for table, column, value in run_sync(settings, every_value)
        if any(clear in value.lower() for clear in CLEAR)
    ]


def read_back(connection: Connection) -> dict[str, Any]:
    def rows(sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in connection.execute(text(sql))]

    def decoded(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    return {
        "redemption_columns": {c["name"] for c in inspect(connection).get_columns("redemptions")},
        "redemptions": rows(
            "SELECT id, customer_ref, customer_alt_ref FROM redemptions ORDER BY id"
        ),
        "usage": set(rows("SELECT campaign_id, customer_ref, used FROM customer_usage")),
        "orders": set(rows("SELECT customer_ref, live FROM customer_orders")),
        "rules": {id_: decoded(rules) for id_, rules in rows("SELECT id, rules FROM campaigns")},
        "audit": {id_: decoded(d) for id_, d in rows("SELECT id, details FROM audit_log")},
        "answers": {
            id_: None if body is None else bytes(body)
            for id_, body in rows("SELECT id, response_body FROM idempotency_keys")
        },
    }


async def redeem_again(settings: Settings) -> list[httpx.Response]:
    """The service on the migrated database: the same customers, the same codes."""
    engine = create_engine(settings)
    app = create_app(settings, engine=engine, clock=FrozenClock(NOW))
    headers = {"Authorization": f"Bearer {CHECKOUT_KEY}"}
    requests: list[dict[str, Any]] = [
        # The id that redeemed VIP-1.
        {"code": "VIP-1", "order_id": "order-10", "customer_id": "cus_42"},
        # An allowed id that never redeemed, with the e-mail that did.
        {
            "code": "VIP-1",
            "order_id": "order-11",
            "customer_id": "cus_43",
            "customer_email": "Ana@Example.com",
        },
        # The e-mail that redeemed OPEN-1, alone.
        {"code": "OPEN-1", "order_id": "order-12", "customer_email": "bob@example.com"},
        # Someone new: the code still works.
        {"code": "OPEN-1", "order_id": "order-13", "customer_email": "carol@example.com"},
    ]
    responses = []
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://promo.test") as client:
            for index, body in enumerate(requests):
                responses.append(
                    await client.post(
                        "/v1/redemptions",
                        json={**body, "cart": SHIRTS},
                        headers={**headers, "Idempotency-Key": f"again-{index}"},
                    )
                )
    finally:
        if isinstance(app.state.writes, AsyncpgAutocommit):
            await app.state.writes.close()
        await engine.dispose()
    return responses


def test_identities_become_refs_and_still_count_after_the_upgrade(database: Settings) -> None:
    migrate.upgrade(database, "0009")
    filled = run_sync(database, fill)
    # The scan sees the identities wherever the previous version kept them.
    assert {table for table, _, _ in clear_values(database)} == {
        "redemptions",
        "customer_usage",
        "customer_orders",
        "campaigns",
        "audit_log",
        "idempotency_keys",
    }

    migrate.upgrade(database, "head")
    assert current_heads(database) == head_revisions()

    assert clear_values(database) == []
    ref = database.keyring.current.ref_of
    keyring = database.keyring
    assert ref("id:cus_42") == keyring.ref("id", "cus_42")

    after = run_sync(database, read_back)
    reds, campaigns, audit = filled["redemptions"], filled["campaigns"], filled["audit"]
    assert after["redemption_columns"].isdisjoint(
        {"customer_key", "customer_alt_key", "customer_id"}
    )
    assert after["redemptions"] == [
        (reds["by_both"], ref("id:cus_42"), ref("email:ana@example.com")),
        (reds["by_email"], ref("email:bob@example.com"), None),
        (reds["anonymous"], None, None),
    ]
    assert after["usage"] == {
        (campaigns["vip"], ref("id:cus_42"), 1),
        (campaigns["vip"], ref("email:ana@example.com"), 1),
        (campaigns["open"], ref("email:bob@example.com"), 1),
    }
    assert after["orders"] == {
        (ref("id:cus_42"), 1),
        (ref("email:ana@example.com"), 1),
        (ref("email:bob@example.com"), 1),
    }

    # The allow-list: trimmed, once each, in order, where customer_ids was.
    vip_rules = after["rules"][campaigns["vip"]]
    assert vip_rules == {
        "exclude_skus": ["GIFT-CARD"],
        "customer_refs": [keyring.ref("id", "cus_42"), keyring.ref("id", "cus_43")],
    }
    assert list(vip_rules) == ["exclude_skus", "customer_refs"]
    assert after["rules"][campaigns["open"]] == filled["open_rules"]

    assert after["audit"][audit["created"]]["rules"] == vip_rules
    assert after["audit"][audit["updated"]] == {
        "rules": {"customer_refs": [keyring.ref("id", "cus_44")], "min_quantity": 1}
    }
    assert after["audit"][audit["cleared"]] == {"rules": {"customer_refs": None}}
    assert after["audit"][audit["other"]] == {"code": "OPEN-1"}

    # Stored answers: customer_ref where customer_key was, customer_id gone,
    # encoded as msgspec does; every other body byte for byte as it was.
    bodies, answer_ids = filled["bodies"], filled["answers"]
    stored = {name: after["answers"][id_] for name, id_ in answer_ids.items()}
    for name, customer_ref in (
        ("by_both", ref("id:cus_42")),
        ("by_email", ref("email:bob@example.com")),
    ):
        old = msgspec.json.decode(bodies[name])
        assert stored[name].startswith(b'{"id":"')
        assert list(msgspec.json.decode(stored[name])) == [
            "customer_ref" if field == "customer_key" else field
            for field in old
            if field != "customer_id"
        ]
        expected = {
            ("customer_ref" if k == "customer_key" else k): (
                customer_ref if k == "customer_key" else v
            )
            for k, v in old.items()
            if k != "customer_id"
        }
        assert stored[name] == msgspec.json.encode(expected)
    assert stored["nested"] == b'{"items":[' + stored["by_both"] + b'],"next_cursor":null}'
    for name in ("refusal", "adjustment", "not_json"):
        assert stored[name] == bodies[name], name
    assert stored["pending"] is None

    # The service on the migrated database: the limit of one is used, under
    # the customer's id and under its e-mail alike.
    responses = asyncio.run(redeem_again(database))
    # A refusal's problem names its reason in "code" (a redemption's "code" is the code).
    answers = [
        (r.status_code, r.json()["code"] if r.status_code == 409 else None) for r in responses
    ]
    assert answers == [
        (409, "customer_limit_reached"),
        (409, "customer_limit_reached"),
        (409, "customer_limit_reached"),
        (201, None),
    ], [r.text for r in responses]


def returning_customer(connection: Connection) -> None:
    """What the previous version writes, after a downgrade, when cus_42 redeems
    again: its identity in clear beside the ref it cannot compute."""
    campaign_id = connection.execute(text("SELECT id FROM campaigns WHERE name = 'VIP'")).scalar()
    connection.execute(
        text(
            "INSERT INTO customer_usage (campaign_id, customer_key, used) "
            "VALUES (:campaign_id, 'id:cus_42', 1)"
        ),
        {"campaign_id": campaign_id},
    )
    connection.execute(
        text("INSERT INTO customer_orders (customer_key, live) VALUES ('id:cus_42', 1)")
    )
    connection.commit()


def test_downgrade_restores_the_previous_schema_and_a_new_upgrade_keeps_the_refs(
    database: Settings,
) -> None:
    migrate.upgrade(database, "0009")
    filled = run_sync(database, fill)
    migrate.upgrade(database, "head")
    upgraded = run_sync(database, read_back)

    migrate.downgrade(database, "0009")

    ref = database.keyring.current.ref_of

    def read(connection: Connection) -> dict[str, Any]:
        def rows(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in connection.execute(text(sql))]

        indexes = {
            table: {ix["name"] for ix in inspect(connection).get_indexes(table)}
            for table in ("redemptions", "customer_usage")
        }
        uniques = {
            uq["name"] for uq in inspect(connection).get_unique_constraints("customer_usage")
        }
        return {
            "redemptions": rows(
                "SELECT id, customer_key, customer_alt_key, customer_id "
                "FROM redemptions ORDER BY id"
            ),
            "orders": set(rows("SELECT customer_key, live FROM customer_orders")),
            "usage": set(rows("SELECT campaign_id, customer_key FROM customer_usage")),
            "rules": dict(rows("SELECT id, rules FROM campaigns")),
            "answers": dict(rows("SELECT id, response_body FROM idempotency_keys")),
            "indexes": indexes,
            "uniques": uniques,
        }

    after = run_sync(database, read)
    reds, vip = filled["redemptions"], filled["campaigns"]["vip"]
    assert after["redemptions"][0] == (
        reds["by_both"],
        ref("id:cus_42"),
        ref("email:ana@example.com"),
        None,
    )
    assert (ref("email:bob@example.com"), 1) in after["orders"]
    assert (vip, ref("id:cus_42")) in after["usage"]
    assert "ix_redemptions_customer_key" in after["indexes"]["redemptions"]
    assert "ix_customer_usage_customer_key" in after["indexes"]["customer_usage"]
    assert "uq_customer_usage_campaign_id_customer_key" in after["uniques"]
    rules = after["rules"][vip]
    rules = json.loads(rules) if isinstance(rules, str) else rules
    assert list(rules) == ["exclude_skus", "customer_ids"]
    old_shape = msgspec.json.decode(bytes(after["answers"][filled["answers"]["by_both"]]))
    assert old_shape["customer_key"] == ref("id:cus_42")
    assert old_shape["customer_id"] is None
    assert list(old_shape) == list(msgspec.json.decode(filled["bodies"]["by_both"]))

    # Upgraded again: the refs are not hashed twice, and what the previous
    # version filed in clear meanwhile joins them.
    run_sync(database, returning_customer)
    migrate.upgrade(database, "head")
    assert current_heads(database) == head_revisions()
    again = run_sync(database, read_back)
    for part in ("redemptions", "rules", "audit", "answers"):
        assert again[part] == upgraded[part], part
    assert again["usage"] == {
        (campaign, customer, 2 if (campaign, customer) == (vip, ref("id:cus_42")) else used)
        for campaign, customer, used in upgraded["usage"]
    }
    assert again["orders"] == {
        (customer, 2 if customer == ref("id:cus_42") else live)
        for customer, live in upgraded["orders"]
    }


MANY = 2345  # more than two batches of the migration's 1,000


def many_customers(connection: Connection) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    campaign_id = insert(
        connection,
        "campaigns",
        name="Many",
        status="active",
        currency="EUR",
        starts_at=start,
        open_to_affiliates=False,
        discount_type="free_shipping",
        rules="{}",
        redemptions_used=0,
        budget_used=0,
        created_at=start,
        updated_at=start,
    )
    keys = [f"email:shopper{i}@example.org" for i in range(MANY)]
    connection.execute(
        text("INSERT INTO customer_orders (customer_key, live) VALUES (:key, 1)"),
        [{"key": key} for key in keys],
    )
    connection.execute(
        text(
            "INSERT INTO customer_usage (campaign_id, customer_key, used) "
            "VALUES (:campaign_id, :key, 1)"
        ),
        [{"campaign_id": campaign_id, "key": key} for key in keys],
    )
    connection.commit()


def test_every_row_of_a_large_table_is_converted_once(database: Settings) -> None:
    migrate.upgrade(database, "0009")
    run_sync(database, many_customers)

    migrate.upgrade(database, "head")

    ref = database.keyring.current.ref_of
    expected = {ref(f"email:shopper{i}@example.org") for i in range(MANY)}
    after = run_sync(database, read_back)
    assert {customer for customer, _ in after["orders"]} == expected
    assert {customer for _, customer, _ in after["usage"]} == expected
    assert len(after["usage"]) == MANY


def test_the_keyring_is_the_one_handed_over_else_the_environments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handed = Keyring.parse(PII_KEY)
    assert migrate.keyring_of(migrate.alembic_config(keyring=handed)) == handed

    # The plain alembic command hands nothing over: PROMO_PII_* decide.
    monkeypatch.setenv("PROMO_PII_KEY", "k7:another-migration-test-pii-key-0123456789")
    monkeypatch.setenv("PROMO_PII_RETIRED_KEYS", PII_KEY)
    from_environment = migrate.keyring_of(migrate.alembic_config())
    assert from_environment.current.key_id == "k7"
    assert from_environment.retired == (handed.current,)
