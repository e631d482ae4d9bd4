"""Event validation: every bad field is named in one line (the dead-letter reason)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bounce_worker.domain.addresses import (
    InvalidAddress,
    normalize_domain,
    normalize_email,
    normalize_phone,
)
from bounce_worker.domain.events import Channel, Event, EventType, InvalidEvent

BASE = {
    "event_id": "mta-1:q1",
    "type": "bounce",
    "channel": "email",
    "recipient": "User@Example.ORG",
    "organization": "acme",
    "list": None,
    "status": "5.1.1",
    "smtp_code": 550,
    "diagnostic": "550 5.1.1 user unknown",
    "occurred_at": "2026-11-22T10:00:00Z",
    "source": "postfix",
}


def test_spec_example_parses_and_normalizes() -> None:
    event = Event.from_dict(BASE)
    assert event.type is EventType.BOUNCE and event.channel is Channel.EMAIL
    assert event.recipient == "User@example.org"  # domain folded, local part kept
    assert event.occurred_at == datetime(2026, 11, 22, 10, tzinfo=UTC)
    assert Event.from_dict(event.to_dict()) == event


@pytest.mark.parametrize(
    "change, message",
    [
        ({"type": "bogus"}, "type must be one of"),
        ({"event_id": ""}, "event_id is required"),
        ({"event_id": 5}, "event_id must be a string"),
        ({"recipient": "no-at-sign"}, "invalid email address"),
        ({"occurred_at": "2026-11-22T10:00:00"}, "no timezone"),
        ({"occurred_at": "yesterday"}, "not ISO 8601"),
        ({"status": "9.9.9"}, "not an enhanced status code"),
        ({"smtp_code": 99}, "smtp_code must be"),
        ({"smtp_code": True}, "smtp_code must be"),
        ({"channel": "fax"}, "channel must be one of"),
        ({"extra": 1}, "unknown field"),
        ({"organization": "a" * 300}, "longer than"),
    ],
)
def test_bad_fields_are_named(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        Event.from_dict(BASE | change)


def test_non_object_is_rejected() -> None:
    with pytest.raises(InvalidEvent, match="JSON object"):
        Event.from_dict(["a"])


def test_long_diagnostic_is_truncated_not_rejected() -> None:
    assert len(Event.from_dict(BASE | {"diagnostic": "x" * 50_000}).diagnostic or "") == 10_000


def test_status_and_code_forms() -> None:
    event = Event.from_dict(BASE | {"status": "5.01.001", "smtp_code": "550"})
    assert event.status == "5.1.1" and event.smtp_code == 550


def test_sms_recipient_is_e164() -> None:
    event = Event.from_dict(BASE | {"channel": "sms", "recipient": "+49 151 1234 5678"})
    assert event.recipient == "+4915112345678"


def test_addresses() -> None:
    assert normalize_email("José@Bücher.DE") == "José@xn--bcher-kva.de"
    assert normalize_email("Name <a.b@Example.com>") == "a.b@example.com"
    assert normalize_domain("@Example.ORG.") == "example.org"
    assert normalize_phone("+1 (202) 555-0143") == "+12025550143"
    for bad in ["", "a@b", "a@@b.com", "x" * 400 + "@example.com"]:
        with pytest.raises(InvalidAddress):
            normalize_email(bad)
    with pytest.raises(InvalidAddress):
        normalize_phone("12345")
