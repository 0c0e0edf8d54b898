"""The privacy scan's matching rules (tests/support/privacy_match.py): what counts as
a customer e-mail or id in clear, and what a ref or an exempt value never does."""

from __future__ import annotations

import json
from typing import Any

import pytest

from promo.pii import Keyring, tombstone
from tests.support.privacy_match import Identities, Matcher

KEYRING = Keyring.parse("1:" + "k" * 32)


def sent(*bodies: dict[str, Any], path: str = "/v1/redemptions", query: str = "") -> Identities:
    identities = Identities()
    for body in bodies:
        identities.add_request(
            "POST",
            f"http://promo.test{path}{'?' + query if query else ''}",
            json.dumps(body).encode(),
            "application/json",
            {},
        )
    return identities


def matcher(*bodies: dict[str, Any]) -> Matcher:
    return sent(*bodies).matcher()


def test_ids_and_emails_are_collected_anywhere_in_the_body_and_the_query() -> None:
    identities = sent(
        {"order": {"customer_id": " cus_42 ", "customer_email": "Ana+x@Example.com"}},
        {"rules": {"customer_ids": ["c1", "c2", 7, " "]}},
        query="customer_id=q1&customer_email=q%40example.com",
    )
    assert identities.ids == {"cus_42", "c1", "c2", "q1"}
    assert {e.canonical for e in identities.emails.values()} == {
        "ana@example.com",
        "q@example.com",
    }


@pytest.mark.parametrize("text", ["a", "@@@", "a@", "   ", "x@localhost"])
def test_what_is_not_an_email_is_not_collected(text: str) -> None:
    assert not sent({"customer_email": text})


def test_an_email_inside_a_json_blob_is_found_in_any_spelling() -> None:
    found = matcher({"customer_email": " Ana.Smith+promo@GMail.com "})
    blob = json.dumps({"items": [{"customer_key": "email:anasmith@gmail.com"}]}).encode()
    assert found.in_cell(blob) == {"Ana.Smith+promo@GMail.com"}
    assert found.in_cell("copy to ANA.SMITH+PROMO@gmail.com, thanks")
    assert found.in_words("path=/v1/x?e=ana.smith%2Bpromo%40gmail.com")


def test_an_email_is_not_found_inside_a_longer_address() -> None:
    found = matcher({"customer_email": "anna@example.com"})
    assert not found.in_value("joanna@example.com")
    assert not found.in_value("anna@example.com.evil.test")
    assert found.in_words("sent to anna@example.com.")


@pytest.mark.parametrize("value", ["c1", " c1 ", "id:c1", "customer:id:c1"])
def test_an_id_is_found_as_a_whole_value_or_a_clear_customer_key(value: str) -> None:
    assert matcher({"customer_id": "c1"}).in_cell(value) == {"c1"}


@pytest.mark.parametrize("value", ["c10", "xc1", "bid:c1", "id:c1:campaign", "C1"])
def test_a_short_id_is_not_found_inside_another_value(value: str) -> None:
    assert not matcher({"customer_id": "c1"}).in_cell(value)


def test_refs_and_tombstones_are_never_findings() -> None:
    ref = KEYRING.ref("id", "c1")
    # A ref whose digest happens to start with the id, or holds it between dashes.
    lookalikes = ["1:c1" + ref[4:], "1:" + "A" * 20 + "-c1-" + "B" * 19, "1:" + "x" * 41 + "c1"]
    found = matcher({"customer_id": "c1"}, {"customer_id": "shopper-1"})
    for text in [ref, tombstone(), *lookalikes]:
        assert len(text.split(":")[1]) == 43
        assert not found.in_cell(text), text
        assert not found.in_words(f"identity=customer:{text} refused"), text
        assert not found.in_json({"customer_ref": text, text: 1}), text


def test_in_free_text_an_id_is_a_word() -> None:
    found = matcher({"customer_id": "c1"})
    assert found.in_words("throttled identity=customer:id:c1 (bucket 3)") == {"c1"}
    assert found.in_words("customer c1, refused") == {"c1"}
    assert not found.in_words("campaign c12 and cc1 and c1x")


def test_a_long_id_is_also_found_as_a_substring_but_not_inside_a_longer_one() -> None:
    found = matcher({"customer_id": "shopper-1"})
    assert found.in_value("order for shopper-1/ord_9") == {"shopper-1"}
    assert not found.in_value("shopper-10")
    assert not found.in_value("xshopper-1")


def test_an_affiliates_contact_email_is_exempt() -> None:
    identities = sent({"name": "Anna", "email": "Anna@Example.com"}, path="/v1/affiliates")
    identities.update(sent({"customer_email": "anna+shop@example.com", "customer_id": "c1"}))
    found = identities.matcher()
    assert not found.in_value("anna@example.com")
    assert found.in_value("id:c1") == {"c1"}
    # An affiliate found in the database's rows is exempt too.
    assert (
        not sent({"customer_email": "bob@example.com"})
        .matcher(["bob@example.com"])
        .in_value("email:bob@example.com")
    )


def test_a_value_that_a_request_sent_in_another_field_is_not_looked_in() -> None:
    found = matcher(
        {"customer_id": "c1", "customer_email": "ana@example.com"},
        {"name": "c1", "note": "refund for ana@example.com", "email": "Ana@Example.com"},
    )
    assert not found.in_value("c1")  # the campaign named c1
    assert not found.in_json({"note": "refund for ana@example.com"})
    assert not found.in_words("campaign c1 created, contact ana@example.com")
    # Where the identity goes, it is still found.
    assert found.in_value("id:c1") == {"c1"}
    assert found.in_value("email:ana@example.com") == {"ana@example.com"}
    assert found.in_words("refused customer:id:c1 ana@example.com.x") == {"c1"}


def test_what_a_tests_receiver_answered_is_another_fields_value() -> None:
    identities = sent({"customer_id": "ok"})
    identities.add_answer(b'{"status": "ok"}')
    found = identities.matcher()
    assert not found.in_value("ok")  # the answer promo kept
    assert found.in_value("id:ok") == {"ok"}


def test_csv_cells_and_json_keys_are_values() -> None:
    found = matcher({"customer_id": "c1", "customer_email": "ana@example.com"})
    assert found.in_csv('id,customer\nr1,c1\nr2,"x"\n') == {"c1"}
    assert found.in_json({"id:c1": 2}) == {"c1"}
    assert found.in_body(b"customer,note\nc1,\n", "text/csv; charset=utf-8") == {"c1"}
    body = b'{"customer_ref":"1:' + b"a" * 43 + b'"}'
    assert not found.in_body(body, "application/json")


def test_narrowing_to_a_column_keeps_every_identity_it_holds() -> None:
    found = matcher(
        {"customer_id": "c1", "customer_email": "ana@example.com"},
        {"customer_id": "shopper-1", "customer_email": "bob@example.com"},
        {"customer_id": "-odd-one"},
    )
    column = ["id:c1", '{"k": "email:ANA@example.com"}', "shopper-10"]
    narrowed = found.narrowed("\n".join(column))
    assert narrowed.ids == {"c1", "shopper-1", "-odd-one"}  # "shopper" occurs; ids are checked
    assert set().union(*(narrowed.in_value(v) for v in column)) == {"c1", "ana@example.com"}
    assert found.narrowed("nothing here\n42").ids == {"-odd-one"}  # tried everywhere
