"""ESP webhooks: SES (via SNS), SendGrid, Mailgun, Postmark."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from bounce_worker.domain.classify import Category, classify
from bounce_worker.domain.events import EventType
from bounce_worker.parsers import ParseError, parse_webhook
from tests.unit.parsers.conftest import fixture_json


def test_ses_bounce_inside_an_sns_envelope():
    events = parse_webhook("ses", fixture_json("ses_bounce_sns.json"))
    assert [e.recipient for e in events] == ["jane@example.com", "richard@example.com"]
    jane = events[0]
    assert (jane.type, jane.status, jane.diagnostic) == (
        EventType.BOUNCE,
        "5.1.1",
        "550 5.1.1 user unknown",
    )
    assert (jane.organization, jane.list) == ("acme", "weekly.acme.sender.example")
    assert jane.occurred_at == datetime(2026, 11, 22, 10, 0, 5, tzinfo=UTC)
    assert classify(jane).category is Category.HARD_BOUNCE
    assert jane.source == "ses"


def test_ses_bare_message_gives_the_same_events_as_the_envelope():
    envelope = fixture_json("ses_bounce_sns.json")
    bare = json.loads(envelope["Message"])
    assert parse_webhook("ses", bare) == parse_webhook("ses", envelope)


def test_ses_complaint_and_delivery():
    (complaint,) = parse_webhook("ses", fixture_json("ses_complaint.json"))
    assert (complaint.type, complaint.feedback_type, complaint.organization) == (
        EventType.COMPLAINT,
        "abuse",
        "acme",
    )
    (delivered,) = parse_webhook("ses", fixture_json("ses_delivery.json"))
    assert delivered.type is EventType.DELIVERED
    assert delivered.recipient == "success@simulator.amazonses.com"


def test_ses_transient_mailbox_full_without_status():
    payload = json.loads(fixture_json("ses_bounce_sns.json")["Message"])
    payload["bounce"].update(bounceType="Transient", bounceSubType="MailboxFull")
    for r in payload["bounce"]["bouncedRecipients"]:
        r.pop("status"), r.pop("diagnosticCode")
    event = parse_webhook("ses", payload)[0]
    assert event.status == "4.2.2"
    assert classify(event).category is Category.MAILBOX_FULL


def test_sendgrid_batch():
    events = parse_webhook("sendgrid", fixture_json("sendgrid_events.json"))
    by_type = [(e.type, e.recipient) for e in events]
    assert by_type == [
        (EventType.BOUNCE, "gina@example.com"),
        (EventType.COMPLAINT, "hank@example.com"),
        (EventType.UNSUBSCRIBE, "ivy@example.com"),
        (EventType.UNSUBSCRIBE, "jack@example.com"),
        (EventType.DELIVERED, "kim@example.com"),
    ]  # dropped and open give no event
    bounce, _, unsub, group, _ = events
    assert (bounce.status, bounce.smtp_code, bounce.organization, bounce.list) == (
        "5.1.1",
        550,
        "acme",
        "weekly",
    )
    assert unsub.list is None
    assert group.list == "asm-group-10"
    assert bounce.event_id == "sendgrid:6g4ZI7SA-xmRDv57GoPIPw=="


def test_mailgun_current_and_legacy():
    (failed,) = parse_webhook("mailgun", fixture_json("mailgun_failed.json"))
    assert (failed.type, failed.recipient, failed.status, failed.smtp_code) == (
        EventType.BOUNCE,
        "nora@example.com",
        "5.1.1",
        550,
    )
    assert (failed.organization, failed.list) == ("acme", "weekly")
    (complaint,) = parse_webhook("mailgun", fixture_json("mailgun_complained.json"))
    assert complaint.type is EventType.COMPLAINT
    (legacy,) = parse_webhook("mailgun", fixture_json("mailgun_legacy_bounced.json"))
    assert (legacy.recipient, legacy.smtp_code, legacy.status) == ("pat@example.com", 550, "5.1.1")


def test_mailgun_temporary_failure_is_a_deferral_not_an_event():
    payload = copy.deepcopy(fixture_json("mailgun_failed.json"))
    payload["event-data"]["severity"] = "temporary"
    assert parse_webhook("mailgun", payload) == []


def test_postmark_records():
    (bounce,) = parse_webhook("postmark", fixture_json("postmark_bounce.json"))
    assert (bounce.type, bounce.recipient, bounce.status, bounce.smtp_code) == (
        EventType.BOUNCE,
        "quinn@example.com",
        "5.1.1",
        550,
    )
    assert (bounce.organization, bounce.list) == ("acme", "weekly")
    assert classify(bounce).category is Category.HARD_BOUNCE
    (spam,) = parse_webhook("postmark", fixture_json("postmark_spam_complaint.json"))
    assert spam.type is EventType.COMPLAINT
    (delivery,) = parse_webhook("postmark", fixture_json("postmark_delivery.json"))
    assert delivery.type is EventType.DELIVERED
    (unsub,) = parse_webhook("postmark", fixture_json("postmark_subscription_change.json"))
    assert (unsub.type, unsub.list) == (EventType.UNSUBSCRIBE, "weekly")


def test_webhook_ids_are_deterministic():
    for provider, name in [
        ("ses", "ses_bounce_sns.json"),
        ("postmark", "postmark_bounce.json"),
        ("mailgun", "mailgun_failed.json"),
        ("sendgrid", "sendgrid_events.json"),
    ]:
        first = [e.event_id for e in parse_webhook(provider, fixture_json(name))]
        assert first == [e.event_id for e in parse_webhook(provider, fixture_json(name))]


@pytest.mark.parametrize(
    ("provider", "payload", "reason"),
    [
        ("ses", {"Type": "Notification", "Message": "{not json"}, "not JSON"),
        (
            "ses",
            {"notificationType": "Bounce", "bounce": {"bounceType": "Permanent"}},
            "bouncedRecipients",
        ),
        ("ses", [], "JSON object"),
        ("sendgrid", [{"event": "bounce", "timestamp": 1795341605}], "email"),
        ("sendgrid", [{"email": "a@example.com", "event": "teleport"}], "unknown event type"),
        ("sendgrid", "bounce", "JSON object"),
        ("mailgun", {"signature": {}}, "event-data"),
        (
            "mailgun",
            {"event-data": {"event": "failed", "severity": "permanent", "timestamp": 1.0}},
            "recipient",
        ),
        (
            "postmark",
            {"RecordType": "Bounce", "Type": "HardBounce", "BouncedAt": "2026-11-22T10:00:00Z"},
            "Email",
        ),
        ("postmark", {"Type": "HardBounce"}, "RecordType"),
        (
            "postmark",
            {
                "RecordType": "Bounce",
                "Type": "HardBounce",
                "Email": "not-an-address",
                "BouncedAt": "2026-11-22T10:00:00Z",
            },
            "invalid email",
        ),
        ("mandrill", {}, "unknown webhook provider"),
    ],
)
def test_malformed_payloads_are_parse_errors_with_a_reason(provider, payload, reason):
    with pytest.raises(ParseError, match=reason) as info:
        parse_webhook(provider, payload)
    assert "\n" not in str(info.value)
