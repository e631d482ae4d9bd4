"""RFC 3464 DSNs: every recipient block, status, diagnostic, remote MTA, organization, list."""

from __future__ import annotations

from datetime import UTC, datetime

from bounce_worker.domain.classify import Category, classify
from bounce_worker.domain.events import EventType
from bounce_worker.parsers import parse_message
from tests.unit.parsers.conftest import RECEIVED_AT, fixture_bytes


def test_every_recipient_block_with_status_diagnostic_and_remote_mta():
    events = parse_message(fixture_bytes("dsn_postfix_org_list.eml"), received_at=RECEIVED_AT)
    assert [e.recipient for e in events] == ["alice@example.org", "bob@example.net"]
    alice, bob = events
    assert alice.type is EventType.BOUNCE
    assert alice.status == "5.1.1"
    assert alice.smtp_code == 550
    assert "User unknown in virtual mailbox table" in alice.diagnostic
    assert "remote-mta: mx.example.org" in alice.diagnostic
    assert bob.status == "4.2.2"
    assert bob.smtp_code == 452
    assert alice.source == "postfix"


def test_the_list_comes_from_the_returned_headers():
    events = parse_message(fixture_bytes("dsn_postfix_org_list.eml"), received_at=RECEIVED_AT)
    assert {e.list for e in events} == {"weekly.acme.sender.example"}


def test_no_header_names_the_organization():
    # The returned original says X-Organization: acme and X-Tenant: acme-tenant-7; whoever
    # sent the bounce wrote them, so neither is read (SPEC 7): the VERP token decides.
    events = parse_message(fixture_bytes("dsn_postfix_org_list.eml"), received_at=RECEIVED_AT)
    assert {e.organization for e in events} == {None}


def test_occurred_at_is_the_last_attempt_then_the_arrival_date():
    alice, bob = parse_message(fixture_bytes("dsn_postfix_org_list.eml"), received_at=RECEIVED_AT)
    assert alice.occurred_at == datetime(2026, 11, 22, 10, 0, 4, tzinfo=UTC)
    assert bob.occurred_at == datetime(2026, 11, 22, 9, 59, 58, tzinfo=UTC)


def test_classification_of_the_two_recipients():
    alice, bob = parse_message(fixture_bytes("dsn_postfix_org_list.eml"), received_at=RECEIVED_AT)
    assert classify(alice).category is Category.HARD_BOUNCE
    assert classify(bob).category is Category.MAILBOX_FULL


def test_same_mail_twice_gives_the_same_ids_and_ids_differ_per_recipient():
    raw = fixture_bytes("dsn_postfix_org_list.eml")
    first = [e.event_id for e in parse_message(raw, received_at=RECEIVED_AT)]
    again = [e.event_id for e in parse_message(raw, received_at=datetime(2030, 1, 1, tzinfo=UTC))]
    assert first == again
    assert len(set(first)) == 2


def test_delivered_action_is_a_delivered_event():
    raw = fixture_bytes("dsn_postfix_org_list.eml").replace(
        b"Action: delayed", b"Action: delivered"
    )
    events = parse_message(raw, received_at=RECEIVED_AT)
    assert events[1].type is EventType.DELIVERED
    assert events[1].status is None


def _dsn(fields: str) -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example\nTo: bounces@sender.example\nSubject: Returned mail\n"
        "Message-ID: <xa1@mx.example>\nMIME-Version: 1.0\nContent-Type: multipart/report; "
        'report-type=delivery-status; boundary="B"\n\n--B\nContent-Type: text/plain\n\n'
        "The original message was received.\n\n--B\nContent-Type: message/delivery-status\n\n"
        f"Reporting-MTA: dns; mx.example\n\n{fields}\n--B--\n"
    ).encode()


def test_x_actual_recipient_names_the_failure_when_no_other_field_has_an_address():
    # Sendmail savemail.c errbody() writes "X-Actual-Recipient: <type>; <addr>" ("the real
    # problem address") next to Final-Recipient; a block whose Final-Recipient is missing or
    # holds no domain ("rfc822; kim", a local name) still names its failure there.
    for fields in (
        "X-Actual-Recipient: rfc822; kim@example.net\nAction: failed\nStatus: 5.1.1\n",
        "Final-Recipient: rfc822; kim\nX-Actual-Recipient: rfc822; kim@example.net\n"
        "Action: failed\nStatus: 5.1.1\n",
    ):
        (event,) = parse_message(_dsn(fields), received_at=RECEIVED_AT)
        assert (event.recipient, event.status) == ("kim@example.net", "5.1.1")
    # Where Final-Recipient has an address, it is the one we sent to: the alias target is not.
    (event,) = parse_message(
        _dsn(
            "Final-Recipient: rfc822; kim@example.net\nX-Actual-Recipient: rfc822; "
            "kim.local@mail.example.net\nAction: failed\nStatus: 5.2.2\n"
        ),
        received_at=RECEIVED_AT,
    )
    assert event.recipient == "kim@example.net"


def test_recipient_blocks_run_together_are_still_one_event_each():
    # RFC 3464 2.1: per-recipient field groups are separated by a blank line. A generator
    # that leaves the line out repeats Final-Recipient (or Original-Recipient) for the next
    # recipient; the later block used to overwrite the earlier one.
    events = parse_message(
        _dsn(
            "Original-Recipient: rfc822; kim@example.net\nFinal-Recipient: rfc822; "
            "kim@example.net\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 "
            "unknown\nOriginal-Recipient: rfc822; bob@example.com\nFinal-Recipient: rfc822; "
            "bob@example.com\nAction: failed\nStatus: 5.2.2\n"
        ),
        received_at=RECEIVED_AT,
    )
    assert [(e.recipient, e.status) for e in events] == [
        ("kim@example.net", "5.1.1"),
        ("bob@example.com", "5.2.2"),
    ]


def _postfix_dsn(prose: str, fields: str) -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example\nTo: bounces@sender.example\n"
        "Subject: Undelivered Mail Returned to Sender\nMessage-ID: <xa2@mx.example>\n"
        "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; "
        'boundary="B"\n\n--B\nContent-Type: text/plain\n\n'
        f"                   The mail system\n\n{prose}\n\n"
        "--B\nContent-Type: message/delivery-status\n\n"
        f"Reporting-MTA: dns; mx.example\n\n{fields}\n--B--\n"
    ).encode()


def test_postfix_greeting_refusal_is_the_connection_stage():
    # Postfix smtp_proto.c smtp_helo(): a non-2xx greeting banner is reported as "host %s
    # refused to talk to me: %s" in the prose, and the Diagnostic-Code holds the reply alone
    # (smtp_skip_5xx_greeting makes the DSN status 4.x.x). The refusal was before any
    # recipient: the sender's (policy), not the recipient's mailbox (its X.2.1 hint).
    prose = (
        "<kim@example.net>: host mx.example.net[192.0.2.1] refused to\n"
        "    talk to me: 421 4.2.1 Service refused, please try later."
    )
    fields = (
        "Final-Recipient: rfc822; kim@example.net\nAction: failed\nStatus: 4.2.1\n"
        "Diagnostic-Code: smtp; 421 4.2.1 Service refused, please try later.\n"
    )
    (event,) = parse_message(_postfix_dsn(prose, fields), received_at=RECEIVED_AT)
    assert "(in reply to connect)" in event.diagnostic
    assert classify(event).category is Category.POLICY
    # a diagnostic that already says it gets no second stage note
    fields = fields.replace(
        "smtp; 421", "smtp; host mx.example.net[192.0.2.1] refused to talk to me: 421"
    )
    (event,) = parse_message(_postfix_dsn(prose, fields), received_at=RECEIVED_AT)
    assert "(in reply to" not in event.diagnostic
    assert classify(event).category is Category.POLICY
