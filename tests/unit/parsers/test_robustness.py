"""Any bytes end as events or a ParseError with a one-line reason, never another exception."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bounce_worker.parsers import ParseError, parse_message, parse_webhook
from tests.unit.parsers.conftest import RECEIVED_AT, fixture_bytes


def _reason(raw: bytes) -> str:
    with pytest.raises(ParseError) as info:
        parse_message(raw, received_at=RECEIVED_AT)
    reason = str(info.value)
    assert reason and "\n" not in reason
    return reason


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   \n\n",
        b"\x00\xff\xfe garbage \x80\x81",
        b"no headers at all, just words\n",
        b"Subject: hello\n\nJust a normal mail to the bounce mailbox.\n",
        b"From: MAILER-DAEMON@x.example\nSubject: Undelivered Mail\n\nnothing useful here\n",
    ],
)
def test_garbage_and_non_feedback_mail_is_a_parse_error(raw):
    _reason(raw)


def test_truncated_mime_never_crashes():
    raw = fixture_bytes("dsn_postfix_org_list.eml")
    for cut in range(0, len(raw), 97):
        try:
            parse_message(raw[:cut], received_at=RECEIVED_AT)
        except ParseError as exc:
            assert "\n" not in str(exc)


def test_non_utf8_and_unknown_charsets():
    raw = (
        b"From: MAILER-DAEMON@mx.example\nTo: bounces@sender.example\nSubject: Undelivered\n"
        b"Content-Type: text/plain; charset=x-unknown-charset\n\n"
        b"\xe9\xe8 <r\xe9@example.org>: 550 5.1.1 unknown user ok@example.org\n"
    )
    events = parse_message(raw, received_at=RECEIVED_AT)
    assert [e.recipient for e in events] == ["ok@example.org"]


def test_deeply_nested_multiparts_are_bounded():
    raw = b"Subject: x\nContent-Type: multipart/mixed; boundary=b0\n\n"
    for i in range(1, 200):
        raw += b"--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n" % (i - 1, i)
    _reason(raw)


def test_invalid_recipient_address_becomes_a_parse_error():
    raw = (
        fixture_bytes("arf_abuse.eml")
        .replace(
            b"Original-Rcpt-To: <dave@example-isp.net>", b"Original-Rcpt-To: <dave@-bad-.example>"
        )
        .replace(b"To: dave@example-isp.net", b"To: nobody")
    )
    _reason(raw)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000))
def test_random_bytes(raw):
    try:
        parse_message(raw, received_at=RECEIVED_AT)
    except ParseError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=1500), st.integers(min_value=0, max_value=4000))
def test_bytes_spliced_into_a_real_bounce(noise, at):
    raw = fixture_bytes("exim_text_bounce.eml")
    try:
        parse_message(raw[:at] + noise + raw[at:], received_at=RECEIVED_AT)
    except ParseError as exc:
        assert "\n" not in str(exc)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["ses", "sendgrid", "mailgun", "postmark"]), json_values)
def test_random_webhook_payloads(provider, payload):
    try:
        parse_webhook(provider, payload)
    except ParseError as exc:
        assert "\n" not in str(exc)
