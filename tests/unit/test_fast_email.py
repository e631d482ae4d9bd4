"""The plain-address fast path gives exactly flanker's answer, or defers to it."""

from __future__ import annotations

import string

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
