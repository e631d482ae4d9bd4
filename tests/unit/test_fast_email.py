"""The plain-address fast path gives exactly flanker's answer, or defers to it."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bounce_worker.domain.addresses import (
    InvalidAddress,
    address_key,
    email_key,
    normalize_email,
    normalize_email_flanker,
)

ATOM = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"
local = st.text(ATOM + ".", min_size=1, max_size=70)
label = st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=66)
domain = st.lists(label, min_size=1, max_size=4).map(".".join)
noise = st.sampled_from(["", " ", ".", "..", "@", "xn--", "\t", "é", '"', "<", ">"])
addresses = st.builds(lambda lo, n, d: f"{lo}{n}@{d}", local, noise, domain) | st.builds(
    lambda lo, d, n: f"{lo}@{d}{n}", local, domain, noise
)


def outcome(fn, raw: str) -> str:  # type: ignore[no-untyped-def]
    try:
        return fn(raw)
    except InvalidAddress:
        return "invalid"


@settings(max_examples=3000, deadline=None)
@given(addresses)
def test_fast_path_agrees_with_flanker(raw: str) -> None:
    assert outcome(normalize_email, raw) == outcome(normalize_email_flanker, raw)


@settings(max_examples=1000, deadline=None)
@given(addresses)
def test_email_key_is_the_normalized_address_folded(raw: str) -> None:
    assert outcome(email_key, raw) == outcome(lambda r: address_key(normalize_email(r)), raw)


def test_known_forms() -> None:
    cases = {
        "John.Doe@Example.ORG": "John.Doe@example.org",
        " a+b@x.co ": "a+b@x.co",
        "a@XN--bcher-kva.ch": "a@xn--bcher-kva.ch",
        "Name <a@b.org>": "a@b.org",
        "a..b@x.org": "invalid",
        # Letters that case-fold into ASCII are not ASCII: flanker decides (IDNA or refusal).
        "a@\u0131x.org": "a@xn--x-eka.org",
        "a@\u017fx.org": "invalid",
        "a@\u212an--x.org": "a@kn--x.org",
        "\u017f@example.org": "\u017f@example.org",
    }
    for raw, expected in cases.items():
        assert outcome(normalize_email, raw) == expected == outcome(normalize_email_flanker, raw)


# RFC 5321 4.5.3.1.1 and 4.5.3.1.3 (RFC 3696 errata 1690): a local part of at most 64
# octets, an address of at most 254. flanker took a 300-character local part.
DOMAIN_189 = "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".org"  # 64 + 1 + 189 = 254


def test_rfc_5321_lengths_on_both_paths() -> None:
    fits = ["a" * 64 + "@example.org", "a" * 64 + "@" + DOMAIN_189, "ü" * 32 + "@example.org",
            "Name <" + "a" * 64 + "@example.org>"]  # fmt: skip
    for raw in fits:
        assert outcome(normalize_email, raw) != "invalid", raw
        assert outcome(normalize_email_flanker, raw) != "invalid", raw
        assert outcome(email_key, raw) != "invalid", raw
    too_long = {
        "a" * 65 + "@example.org": "email local part longer than 64 octets (RFC 5321)",
        "a" * 300 + "@example.org": "email local part longer than 64 octets (RFC 5321)",
        "ü" * 33 + "@example.org": "email local part longer than 64 octets (RFC 5321)",  # 66
        '"' + "a b" * 21 + '"@example.org': "email local part longer than 64 octets",
        "a" * 64 + "@" + DOMAIN_189.replace("d" * 57, "d" * 58): (
            "email address longer than 254 octets (RFC 5321)"
        ),
        "Name <" + "a" * 65 + "@example.org>": "email local part longer than 64 octets",
    }
    for raw, says in too_long.items():
        for fn in (normalize_email, normalize_email_flanker, email_key):
            with pytest.raises(InvalidAddress) as refused:
                fn(raw)
            assert str(refused.value).startswith(says), (fn, raw, refused.value)
