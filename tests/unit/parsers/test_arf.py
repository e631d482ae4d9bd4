"""RFC 5965 ARF complaint reports."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bounce_worker.domain.classify import Category, classify
from bounce_worker.domain.events import EventType
from bounce_worker.parsers import ParseError, parse_message
from tests.unit.parsers.conftest import RECEIVED_AT, fixture_bytes


def test_abuse_report_is_a_complaint_for_the_original_recipient():
    (event,) = parse_message(fixture_bytes("arf_abuse.eml"), received_at=RECEIVED_AT)
    assert event.type is EventType.COMPLAINT
    assert event.recipient == "dave@example-isp.net"
    assert event.feedback_type == "abuse"
    assert event.organization is None  # its X-Organization is not read (SPEC 7)
    assert event.list == "weekly.acme.sender.example"
    assert event.occurred_at == datetime(2026, 11, 22, 9, 59, 59, tzinfo=UTC)
    assert event.source == "arf"
    assert classify(event).category is Category.COMPLAINT


def test_redacted_report_falls_back_to_the_original_to():
    raw = fixture_bytes("arf_abuse.eml").replace(b"Original-Rcpt-To: <dave@example-isp.net>\n", b"")
    (event,) = parse_message(raw, received_at=RECEIVED_AT)
    assert event.recipient == "dave@example-isp.net"


def test_not_spam_feedback_is_kept_but_ignored_by_classification():
    raw = fixture_bytes("arf_abuse.eml").replace(
        b"Feedback-Type: abuse", b"Feedback-Type: not-spam"
    )
    (event,) = parse_message(raw, received_at=RECEIVED_AT)
    assert event.feedback_type == "not-spam"
    assert classify(event).category is Category.IGNORED


def test_malformed_arf_without_feedback_type_is_a_parse_error():
    raw = fixture_bytes("arf_abuse.eml").replace(b"Feedback-Type: abuse\n", b"")
    with pytest.raises(ParseError, match="Feedback-Type"):
        parse_message(raw, received_at=RECEIVED_AT)


def test_arf_naming_nobody_is_a_parse_error():
    raw = (
        fixture_bytes("arf_abuse.eml")
        .replace(b"Original-Rcpt-To: <dave@example-isp.net>\n", b"")
        .replace(b"To: dave@example-isp.net\n", b"To: undisclosed-recipients:;\n")
    )
    with pytest.raises(ParseError, match="names no recipient"):
        parse_message(raw, received_at=RECEIVED_AT)
