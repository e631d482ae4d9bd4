"""RFC 8058 one-click bodies and mailto unsubscribe mails."""

from __future__ import annotations

import pytest

from bounce_worker.domain.classify import Category, classify
from bounce_worker.domain.events import EventType
from bounce_worker.parsers import ParseError, parse_message, parse_one_click
from tests.unit.parsers.conftest import RECEIVED_AT, fixture_bytes


def test_one_click_body_with_the_recipient_from_the_caller():
    (event,) = parse_one_click(
        fixture_bytes("one_click_body.txt"),
        recipient="uma@example.com",
        organization="acme",
        list_id="weekly",
        received_at=RECEIVED_AT,
    )
    assert event.type is EventType.UNSUBSCRIBE
    assert (event.recipient, event.organization, event.list) == (
        "uma@example.com",
        "acme",
        "weekly",
    )
    assert event.occurred_at == RECEIVED_AT
    assert classify(event).category is Category.UNSUBSCRIBE


def test_one_click_form_fields_identify_the_recipient_when_the_caller_does_not():
    body = "List-Unsubscribe=One-Click&recipient=vic%40example.com&organization=acme&list=weekly"
    (event,) = parse_one_click(body, received_at=RECEIVED_AT)
    assert (event.recipient, event.organization, event.list) == (
        "vic@example.com",
        "acme",
        "weekly",
    )


def test_one_click_multipart_form_data():
    body = '--b\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--b--\r\n'
    (event,) = parse_one_click(body, recipient="wes@example.com", received_at=RECEIVED_AT)
    assert event.recipient == "wes@example.com"


def test_one_click_is_idempotent():
    ids = {
        parse_one_click(
            "List-Unsubscribe=One-Click", recipient="x@example.com", received_at=RECEIVED_AT
        )[0].event_id
        for _ in range(2)
    }
    assert len(ids) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("", "One-Click"),
        ("List-Unsubscribe=Maybe", "One-Click"),
        ("List-Unsubscribe=One-Click", "no recipient"),
    ],
)
def test_one_click_refusals(body, reason):
    with pytest.raises(ParseError, match=reason):
        parse_one_click(body, received_at=RECEIVED_AT)


def test_one_click_bad_address_is_a_parse_error():
    with pytest.raises(ParseError, match="invalid email"):
        parse_one_click(
            "List-Unsubscribe=One-Click", recipient="not an address", received_at=RECEIVED_AT
        )


def test_mailto_unsubscribe_mail():
    (event,) = parse_message(fixture_bytes("mailto_unsubscribe.eml"), received_at=RECEIVED_AT)
    assert event.type is EventType.UNSUBSCRIBE
    assert event.recipient == "erin@example.com"
    assert (event.organization, event.list) == (None, "weekly.acme.sender.example")
    assert event.source == "mailto-unsubscribe"


def test_apple_mail_unsubscribe_is_recognised_despite_auto_submitted():
    raw = (
        b"From: someone@icloud.example\nTo: opt-out-1@sender.example\nSubject: hello\n"
        b"Auto-Submitted: auto-replied\nX-Apple-Unsubscribe: true\nMessage-ID: <a1@icloud.example>\n\n"
        b"Apple Mail sent this email to unsubscribe from the message.\n"
    )
    (event,) = parse_message(raw, received_at=RECEIVED_AT)
    assert event.type is EventType.UNSUBSCRIBE
    assert event.recipient == "someone@icloud.example"


@pytest.mark.parametrize("body", [None, 42, b"\xff\xfe\x00", "List-Unsubscribe=One-Click%ZZ&&&==="])
def test_one_click_odd_bodies_are_parse_errors(body):
    with pytest.raises(ParseError):
        parse_one_click(body, received_at=RECEIVED_AT)
