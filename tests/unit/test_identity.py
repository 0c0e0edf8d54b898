"""Customer identity: the canonical e-mail and the identity keys (promo.identity)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promo.identity import NotAnEmail, canonical_email, identify
from promo.pii import Keyring
from tests.support.pii import KEYRING, ref

# --- strategies -------------------------------------------------------------

LOCAL_CHARS = string.ascii_lowercase + string.digits + "_-"
locals_ = st.text(alphabet=LOCAL_CHARS, min_size=1, max_size=20)
tags = st.text(alphabet=LOCAL_CHARS + "+", max_size=10)
other_domains = st.sampled_from(
    ["example.com", "outlook.com", "mail.example.org", "gmail.co.uk", "gmail.com.evil.test"]
)
gmail_domains = st.sampled_from(["gmail.com", "googlemail.com"])
emails = st.builds(
    lambda parts, tag, domain: ".".join(parts) + (f"+{tag}" if tag else "") + f"@{domain}",
    st.lists(locals_, min_size=1, max_size=3),
    tags,
    other_domains | gmail_domains,
)
ids = st.text(min_size=1, max_size=40).filter(lambda text: bool(text.strip()))


@st.composite
def recased(draw: st.DrawFn, text: str) -> str:
    """``text`` with the case of any of its characters swapped."""
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.swapcase() if flip else c for c, flip in zip(text, flips, strict=True))


@st.composite
def dotted(draw: st.DrawFn, local: str) -> str:
    """``local`` with single dots between any of its characters (an address has
    no leading, trailing or doubled dot)."""
    inside = range(1, len(local))
    cuts = draw(st.sets(st.sampled_from(inside), max_size=5)) if inside else set()
    return "".join(("." if i in cuts else "") + c for i, c in enumerate(local))


# --- canonical_email: table -------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        # Gmail: dots and +tag dropped; googlemail.com is gmail.com.
        ("ana.lima@gmail.com", "analima@gmail.com"),
        ("a.n.a.l.i.m.a@gmail.com", "analima@gmail.com"),
        ("analima+promo@gmail.com", "analima@gmail.com"),
        ("ana.lima+promo.summer@gmail.com", "analima@gmail.com"),
        ("ana.lima@googlemail.com", "analima@gmail.com"),
        ("AnaLima+x@GoogleMail.COM", "analima@gmail.com"),
        # Other domains: +tag dropped, dots kept.
        ("ana.lima@example.com", "ana.lima@example.com"),
        ("ana.lima+promo@example.com", "ana.lima@example.com"),
        ("ana+a+b@example.com", "ana@example.com"),
        ("first.last+news@outlook.com", "first.last@outlook.com"),
        ("ana.lima@mail.gmail.com", "ana.lima@mail.gmail.com"),
        ("ana.lima@gmail.com.evil.test", "ana.lima@gmail.com.evil.test"),
        # Trimmed and lower-cased.
        ("  Ana@Example.COM  ", "ana@example.com"),
        ("\tANA.LIMA@EXAMPLE.COM\n", "ana.lima@example.com"),
        (" Ana.Lima+Promo@Gmail.com ", "analima@gmail.com"),
    ],
)
def test_email_has_its_canonical_form(typed: str, expected: str) -> None:
    assert canonical_email(typed) == expected


def test_gmail_dots_are_dropped_from_the_local_part_only() -> None:
    assert canonical_email("a.b@gmail.com").endswith("@gmail.com")


def test_googlemail_and_gmail_are_one_mailbox() -> None:
    assert canonical_email("ana.lima@googlemail.com") == canonical_email("analima@gmail.com")


def test_other_domains_keep_dots_apart() -> None:
    assert canonical_email("ana.lima@example.com") != canonical_email("analima@example.com")


# --- canonical_email: properties --------------------------------------------


@given(data=st.data(), local=locals_, domain=gmail_domains, tag=tags)
def test_gmail_dots_tags_and_case_never_change_the_canonical_email(
    data: st.DataObject, local: str, domain: str, tag: str
) -> None:
    variant = data.draw(dotted(local)) + "+" + tag
    typed = data.draw(recased(f" {variant}@{domain} "))
    assert canonical_email(typed) == f"{local}@gmail.com"


@given(data=st.data(), local=locals_, domain=other_domains, tag=tags)
def test_other_domains_drop_tag_and_case_but_keep_dots(
    data: st.DataObject, local: str, domain: str, tag: str
) -> None:
    with_dots = data.draw(dotted(local))
    typed = data.draw(recased(f"{with_dots}+{tag}@{domain}"))
    assert canonical_email(typed) == f"{with_dots}@{domain}"


@given(email=emails)
def test_canonical_email_is_idempotent(email: str) -> None:
    once = canonical_email(email)
    assert canonical_email(once) == once


@given(email=emails)
def test_canonical_email_is_lower_case_trimmed_and_untagged(email: str) -> None:
    result = canonical_email(f"  {email.upper()}  ")
    local, _, domain = result.rpartition("@")
    assert result == result.strip().lower()
    assert "+" not in local
    assert domain != "googlemail.com"


# --- what is not an address ------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["@@@", "ana", "ana@", "@example.com", "a b@example.com", "a..b@example.com", ""]
)
def test_text_that_is_not_an_address_is_refused(typed: str) -> None:
    with pytest.raises(NotAnEmail):
        canonical_email(typed)


@given(text=st.text(alphabet=string.ascii_letters + string.digits + " .", max_size=30))
def test_text_without_an_at_sign_is_never_an_address(text: str) -> None:
    with pytest.raises(NotAnEmail):
        canonical_email(text)


# --- identify ---------------------------------------------------------------


def key(customer_id: str | None, customer_email: str | None) -> str | None:
    """The ref a redemption is filed under."""
    return identify(KEYRING, customer_id, customer_email).primary


@pytest.mark.parametrize(
    ("customer_id", "customer_email", "expected"),
    [
        pytest.param("cus_42", None, ("id:cus_42",), id="id-only"),
        pytest.param(
            "cus_42", "ana@example.com", ("id:cus_42", "email:ana@example.com"), id="both-count"
        ),
        pytest.param(" cus_42 ", None, ("id:cus_42",), id="id-trimmed"),
        pytest.param(None, "ana@example.com", ("email:ana@example.com",), id="email-only"),
        pytest.param(None, " Ana.Lima+x@GoogleMail.com ", ("email:analima@gmail.com",), id="canon"),
        pytest.param("", "ana@example.com", ("email:ana@example.com",), id="empty-id"),
        pytest.param("   ", "ana@example.com", ("email:ana@example.com",), id="blank-id"),
        pytest.param(None, None, (), id="neither"),
        pytest.param("", "", (), id="both-empty"),
        pytest.param("  ", " \t ", (), id="both-blank"),
        pytest.param(None, "  ", (), id="blank-email"),
    ],
)
def test_identity_keys(
    customer_id: str | None, customer_email: str | None, expected: tuple[str, ...]
) -> None:
    identity = identify(KEYRING, customer_id, customer_email)
    refs = tuple(ref(keyed) for keyed in expected)
    assert identity.refs == refs
    assert identity.primary == (refs[0] if refs else None)
    assert identity.secondary == (refs[1] if len(refs) > 1 else None)
    assert identity.primary_prior == identity.secondary_prior == ()


def test_same_gmail_mailbox_typed_differently_is_one_customer() -> None:
    keys = {
        key(None, email)
        for email in (
            "ana.lima@gmail.com",
            "AnaLima+summer@gmail.com",
            "a.n.a.lima+x@googlemail.com",
            "  ANALIMA@GMAIL.COM ",
        )
    }
    assert keys == {ref("email:analima@gmail.com")}


def test_id_that_looks_like_an_email_key_is_still_an_id() -> None:
    assert key("email:ana@example.com", None) == ref("id:email:ana@example.com")
    assert key("email:ana@example.com", None) != key(None, "ana@example.com")


@given(customer_id=ids, customer_email=emails)
def test_an_id_ref_never_equals_an_email_ref(customer_id: str, customer_email: str) -> None:
    by_id = key(customer_id, None)
    by_email = key(None, customer_email)
    assert by_id == ref(f"id:{customer_id.strip()}")
    assert by_email == ref(f"email:{canonical_email(customer_email)}")
    assert by_id != by_email


@given(customer_id=ids, customer_email=st.none() | emails)
def test_the_id_files_the_redemption_and_the_email_counts_too(
    customer_id: str, customer_email: str | None
) -> None:
    identity = identify(KEYRING, customer_id, customer_email)
    assert identity.primary == ref(f"id:{customer_id.strip()}")
    if customer_email is None:
        assert identity.secondary is None
    else:
        assert identity.secondary == ref(f"email:{canonical_email(customer_email)}")


@given(customer_email=emails)
def test_without_id_the_key_is_the_canonical_email(customer_email: str) -> None:
    expected = ref(f"email:{canonical_email(customer_email)}")
    assert key(None, customer_email) == expected
    assert key("  ", customer_email) == expected


# --- refs and key rotation (promo.pii) ---------------------------------------

OLD = "old:" + "o" * 32
NEW = "new:" + "n" * 32


@given(customer_id=ids, customer_email=st.none() | emails)
def test_after_a_rotation_every_identity_has_its_new_ref_first_then_its_old_one(
    customer_id: str, customer_email: str | None
) -> None:
    before = identify(Keyring.parse(OLD), customer_id, customer_email)
    after = identify(Keyring.parse(NEW, OLD), customer_id, customer_email)
    assert after.primary is not None
    assert after.primary.startswith("new:")
    assert after.primary_prior == (before.primary,)
    assert after.secondary_prior == ((before.secondary,) if customer_email else ())
    assert set(before.refs) < set(after.refs)


@given(customer_id=ids)
def test_a_ref_carries_its_key_id_and_hides_the_identity(customer_id: str) -> None:
    made = identify(Keyring.parse(NEW), customer_id, None).primary
    assert made is not None
    key_id, _, digest = made.partition(":")
    assert key_id == "new"
    assert len(digest) == 43
    # Keyed: the same identity under another key is another ref.
    assert made != identify(Keyring.parse(OLD), customer_id, None).primary
