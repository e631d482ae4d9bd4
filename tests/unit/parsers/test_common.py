"""Event construction: the dot-atom fast path agrees with Event.from_dict."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bounce_worker.domain.events import Event
from bounce_worker.parsers import ParseError
from bounce_worker.parsers._common import (
    ADDRESS_RE,
    first_reply_code,
    first_status,
    iter_addresses,
    make_event,
    parse_date,
)

BASE = {
    "event_id": "t:1",
    "type": "bounce",
    "channel": "email",
    "occurred_at": "2026-11-22T10:00:00Z",
    "status": "5.1.1",
    "smtp_code": 550,
    "diagnostic": "550 5.1.1 user unknown",
    "source": "test",
}

# RFC 5322 atext: the whole alphabet of the normalizer's fast path
local_parts = st.text(string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-", min_size=1,
                      max_size=12)  # fmt: skip
labels = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,8}[A-Za-z0-9])?", fullmatch=True)
tlds = st.text(string.ascii_letters, min_size=2, max_size=6)


@given(
    st.lists(local_parts, min_size=1, max_size=3), st.lists(labels, min_size=1, max_size=3), tlds
)
def test_fast_path_matches_from_dict(local, domain, tld):
    address = ".".join(local) + "@" + ".".join([*domain, tld])
    data = {**BASE, "recipient": address}
    assert make_event(**data) == Event.from_dict(data)


@pytest.mark.parametrize(
    "field",
    [
        {"status": "9.9.9"},
        {"smtp_code": 99},
        {"type": "explosion"},
        {"occurred_at": "yesterday"},
        {"event_id": ""},
        {"recipient": "nobody"},
        {"recipient": "a@b"},
        # RFC 5321's lengths: the fast path took a 65-character local part (and 300).
        {"recipient": "a" * 65 + "@example.org"},
        {"recipient": "a" * 300 + "@example.org"},
        # an IDNA label that does not decode: the fast path took it, the normalizer refuses
        {"recipient": "user@xn--a.org"},
        {"recipient": "a@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + "." + "e" * 60 + ".org"},
    ],
)
def test_invalid_fields_are_parse_errors_on_both_paths(field):
    with pytest.raises(ParseError):
        make_event(**{**BASE, "recipient": "ok@example.org", **field})


def test_the_longest_addresses_rfc_5321_allows_are_taken_on_both_paths():
    for address in (
        "a" * 64 + "@example.org",
        "a@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + "." + "e" * 56 + ".org",
    ):
        assert len(address) <= 254
        data = {**BASE, "recipient": address}
        assert make_event(**data) == Event.from_dict(data)


def test_codes_from_prose():
    assert first_status("said: 550-5.7.26 Unauthenticated") == "5.7.26"
    assert first_status("version 10.5.1.1 build") is None
    assert first_reply_code("host 192.0.2.550 said: 554 5.7.1 no") == 554
    assert first_reply_code("at 23:45:50 nothing") is None


def test_dates():
    assert parse_date("Sun, 22 Nov 2026 10:00:04 +0900").isoformat() == "2026-11-22T01:00:04+00:00"
    assert parse_date("garbage") is None
    assert parse_date(None) is None


# Prose around addresses: every character class ADDRESS_RE and its look-arounds care about
# (atext, dots, quotes, '@', brackets, hyphens, line breaks, non-ASCII word characters).
_PROSE = st.lists(
    st.sampled_from([*'ab.-_+=/%"@<>() \t\r\n;:é1', "kim@example.org", "x@b.co", '"a b"@c.io']),
    max_size=60,
).map("".join)


@given(st.lists(_PROSE, max_size=8).map("".join))
def test_iter_addresses_is_finditer(text):
    """The line-wise address scan gives exactly ADDRESS_RE.finditer's matches."""
    want = [(m.start(), m.end(), m.group(1)) for m in ADDRESS_RE.finditer(text)]
    assert [(m.start(), m.end(), m.group(1)) for m in iter_addresses(text)] == want


def test_iter_addresses_on_report_lines():
    text = 'a@b.org x@y.io\n"kim k"@example.org, <bob@example.net>\nno address\nfoo.@bar.com@x.org'
    want = [m.span() for m in ADDRESS_RE.finditer(text)]
    assert len(want) >= 4
    assert [m.span() for m in iter_addresses(text)] == want
