"""Which address a bounce names (issue 13, class 1): the subscriber, never a bystander.

Mails are built here from the formats' documented shapes (RFC 3464 field syntax, Exchange's
proxy-address notation, Sendmail's transcript), not copied from any corpus.
"""

from __future__ import annotations

import pytest

from bounce_worker.domain.classify import Category, classify
from bounce_worker.parsers import ParseError, parse_message
from bounce_worker.parsers._common import field_address, tidy_address
from tests.unit.parsers.conftest import RECEIVED_AT


def _dsn(
    recipient_fields: str, *, outer: str = "", diagnostic: str = "smtp; 550 5.1.1 User unknown"
) -> bytes:
    report = (
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\n\n'
        "--b1\nContent-Type: text/plain\n\nDelivery failed.\n\n"
        "--b1\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.net\n\n"
        f"{recipient_fields}\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: {diagnostic}\n\n"
        "--b1\nContent-Type: text/rfc822-headers\n\n"
        "From: news@sender.example\nTo: list@lists.sender.example\nSubject: hi\n\n--b1--\n"
    )
    head = "From: MAILER-DAEMON@mx.example.net\nTo: bounces@sender.example\n"
    head += "Subject: Undelivered Mail Returned to Sender\nMessage-ID: <d1@mx.example.net>\n"
    return (head + outer + "MIME-Version: 1.0\n" + report).encode()


def test_a_valid_original_recipient_names_the_subscriber_after_forwarding():
    # RFC 3464 2.3.1: Original-Recipient is the address the sender gave (ORCPT).
    raw = _dsn(
        "Original-Recipient: rfc822;alias@example.org\nFinal-Recipient: rfc822;real@example.net"
    )
    (event,) = parse_message(raw, received_at=RECEIVED_AT)
    assert event.recipient == "alias@example.org"


@pytest.mark.parametrize(
    "original",
    ["rfc822;alias..broken@example.org", "x400;c=us;a=;p=example;o=mail;s=alias", "rfc822;alias"],
)
def test_an_original_recipient_that_is_no_valid_address_leaves_final_recipient(original):
    raw = _dsn(f"Original-Recipient: {original}\nFinal-Recipient: rfc822;real@example.net")
    (event,) = parse_message(raw, received_at=RECEIVED_AT)
    assert event.recipient == "real@example.net"


@pytest.mark.parametrize(
    "value",
    [
        "rfc822;SMTP=user@example.org",  # Exchange proxy-address notation
        "rfc822; <user@example.org>",
        'rfc822; "user@example.org"',
        "RFC822; 'user@example.org'",
        "smtp:user@example.org",
    ],
)
def test_prefixes_quotes_and_brackets_are_removed(value):
    (event,) = parse_message(_dsn(f"Final-Recipient: {value}"), received_at=RECEIVED_AT)
    assert event.recipient == "user@example.org"


def test_a_quoted_local_part_keeps_its_quotes():
    assert field_address('rfc822; "a..b"@example.org') == '"a..b"@example.org'


def test_prose_addresses_lose_notation_prefixes_and_stray_quotes():
    assert tidy_address("SMTP=user@example.org") == "user@example.org"
    assert tidy_address("'user@example.org") == "user@example.org"


def test_exchange_imcea_encapsulated_addresses_are_decoded():
    # Exchange writes an SMTP address it relays as IMCEASMTP-<local with +XX escapes>@<host>
    assert tidy_address("IMCEASMTP-kim+40example+2Eorg@ex.example") == "kim@example.org"
    assert field_address("rfc822;IMCEASMTP-kim+40example+2Eorg@ex.example") == "kim@example.org"
    assert tidy_address("IMCEASMTP-broken@ex.example") == "IMCEASMTP-broken@ex.example"


def test_a_dsn_forwarded_as_an_attachment_is_read():
    inner = _dsn("Final-Recipient: rfc822;gone@example.org").decode()
    raw = (
        "From: helpdesk@sender.example\nTo: bounces@sender.example\nSubject: Fwd: Undelivered\n"
        "Message-ID: <f1@sender.example>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="outer"\n\n'
        "--outer\nContent-Type: text/plain\n\nForwarding the bounce below.\n\n"
        f"--outer\nContent-Type: message/rfc822\n\n{inner}\n--outer--\n"
    ).encode()
    (event,) = parse_message(raw, received_at=RECEIVED_AT)
    assert event.recipient == "gone@example.org"
    assert classify(event).category is Category.HARD_BOUNCE


def test_an_attached_ordinary_message_is_not_read_as_a_report():
    raw = (
        b"From: helpdesk@sender.example\nTo: bounces@sender.example\nSubject: question\n"
        b"Message-ID: <f2@sender.example>\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="outer"\n\n'
        b"--outer\nContent-Type: text/plain\n\nSee the attached mail.\n\n"
        b"--outer\nContent-Type: message/rfc822\n\nFrom: a@example.org\nTo: b@example.org\n"
        b"Subject: hello\n\nUser unknown\n--outer--\n"
    )
    with pytest.raises(ParseError):
        parse_message(raw, received_at=RECEIVED_AT)


def _text_bounce(body: str, subject: str = "Returned mail: see transcript for details") -> bytes:
    return (
        "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>\n"
        f"To: bounces@sender.example\nSubject: {subject}\nMessage-ID: <t1@mx.example.net>\n\n"
        f"{body}"
    ).encode()


def test_no_event_for_addresses_found_only_in_the_returned_message():
    # The report names neither an address nor the original recipient's host: the list's
    # own address and the Cc in the copy are bystanders.
    raw = _text_bounce(
        "   ----- Transcript of session follows -----\n"
        "554 5.0.0 Service unavailable\n\n"
        "   ----- Original message follows -----\n"
        "From: news@sender.example\nTo: list@lists.sender.example\nCc: someone@example.org\n"
        "Subject: hello\n\nbody\n"
    )
    with pytest.raises(ParseError, match="names no failed recipient"):
        parse_message(raw, received_at=RECEIVED_AT)


def test_a_transcript_naming_the_host_names_the_original_recipient_there():
    # Sendmail V5: "host (smtp)... Deferred: ..." names the domain, not the address.
    raw = _text_bounce(
        "   ----- Transcript of session follows -----\n"
        "421 example.com (smtp)... Deferred: Connection timed out with example.com\n\n"
        "   ----- Unsent message follows -----\n"
        "From: news@sender.example\nTo: kim@example.com\nCc: other@example.org\n"
        "Subject: hello\n\nbody\n"
    )
    (event,) = parse_message(raw, received_at=RECEIVED_AT)
    assert event.recipient == "kim@example.com"


def test_the_recipient_on_a_line_of_its_own_before_contact_advice():
    # Gmail's documented delay/failure notice shape: the address alone on its line, then the
    # remote server's reply inside a sentence that recommends contacting the provider.
    raw = _text_bounce(
        "Delivery to the following recipient has been delayed:\n\n     kim@example.jp\n\n"
        "Technical details of temporary failure: Google tried to deliver your message, but it "
        "was rejected by the recipient domain. We recommend contacting the other email "
        "provider for further information about the cause of this error. The error that the "
        "other server returned was: 452 4.2.2 <kim@example.jp>... Mailbox Full\n",
        subject="Delivery Status Notification (Delay)",
    )
    (event,) = parse_message(raw, received_at=RECEIVED_AT)
    assert event.recipient == "kim@example.jp"
    assert event.status == "4.2.2"


def test_a_warning_subject_stating_user_unknown_is_a_final_bounce():
    raw = (
        b"From: postmaster@mail.example.org\nTo: bounces@sender.example\n"
        b"Subject: Warning: message to kim@example.org: User unknown!\n"
        b"Message-ID: <w1@mail.example.org>\n\n"
        b"The mailbox kim@example.org is not known here.\n"
    )
    (event,) = parse_message(raw, received_at=RECEIVED_AT)
    assert event.recipient == "kim@example.org"
    assert event.status == "5.0.0"


def test_an_expanded_alias_names_the_subscriber_once():
    # Postfix bounce(8) names the original address of a rewritten recipient "(expanded from
    # <...>)", Exim "(generated from ...)": one failure, and the subscriber is the alias we
    # sent to (as Original-Recipient in a DSN).
    raw = _text_bounce(
        "This is the mail system at host mx.example.net.\n\n"
        "<kim@example.net> (expanded from <alias@example.org>): host mx.example.net"
        "[192.0.2.1] said: 550 5.1.1 User unknown (in reply to RCPT TO command)\n"
    )
    (event,) = parse_message(raw, received_at=RECEIVED_AT)
    assert event.recipient == "alias@example.org"
    assert event.status == "5.1.1"


def test_exim_generated_from_with_its_failed_recipients_header():
    raw = (
        b"From: Mail Delivery System <Mailer-Daemon@mx.example.net>\nTo: bounces@sender.example\n"
        b"Subject: Mail delivery failed: returning message to sender\n"
        b"X-Failed-Recipients: kim@example.net\nMessage-ID: <g1@mx.example.net>\n\n"
        b"A message that you sent could not be delivered to one or more of its\n"
        b"recipients. This is a permanent error. The following address(es) failed:\n\n"
        b"  kim@example.net\n    (generated from alias@example.org)\n"
        b"    SMTP error from remote mail server after RCPT TO:<kim@example.net>:\n"
        b"    550 5.1.1 User unknown\n"
    )
    (event,) = parse_message(raw, received_at=RECEIVED_AT)
    assert event.recipient == "alias@example.org"


def test_an_ordinary_mail_titled_error_names_nobody_as_failed():
    # "error" in a subject is no delivery failure: a person's mail reaching the bounce
    # mailbox must not turn the addresses it quotes into events.
    raw = (
        b"From: Bob <bob@example.org>\nTo: bounces@sender.example\n"
        b"Subject: Re: error in my invoice\nMessage-ID: <h1@example.org>\n\n"
        b"Hello, on Monday Alice <alice@example.com> wrote that the amount is wrong.\n"
        b"Please write to accounts@example.net.\n"
    )
    with pytest.raises(ParseError, match="not a bounce"):
        parse_message(raw, received_at=RECEIVED_AT)


def test_quoted_to_and_cc_lines_are_not_failures_when_the_report_names_one():
    # Exchange's NDR quotes the original's headers ("To:", "Subject:", "Sent:") above the
    # recipients it could not reach.
    raw = _text_bounce(
        "Your message did not reach some or all of the intended recipients.\n\n"
        "      To:      list@lists.sender.example\n      Cc:      boss@example.com\n"
        "      Subject: hello\n      Sent:    1/1/2010 1:00 PM\n\n"
        "The following recipient(s) could not be reached:\n\n"
        "      kim@example.org on 1/1/2010 1:00 PM\n"
        "            The recipient name is not recognized\n",
        subject="Undeliverable: hello",
    )
    (event,) = parse_message(raw, received_at=RECEIVED_AT)
    assert event.recipient == "kim@example.org"


def test_a_quoted_to_line_is_the_failure_when_it_is_all_the_report_names():
    raw = _text_bounce(
        "Your message\n\n  To:      kim@example.org\n  Subject: hello\n\n"
        "was not delivered because the user is unknown.\n",
        subject="DELIVERY FAILURE: user unknown",
    )
    (event,) = parse_message(raw, received_at=RECEIVED_AT)
    assert event.recipient == "kim@example.org"


def test_a_transient_remote_reply_keeps_a_final_dsn_soft():
    # The reporting MTA gave up (Action failed, Status 5.1.1) after the remote server said
    # 450 4.1.1: the mailbox was never said not to exist (SPEC 3: 4.x.x is never hard).
    raw = _dsn(
        "Final-Recipient: rfc822;kim@example.org",
        diagnostic="smtp; 450 4.1.1 <kim@example.org>: Recipient address rejected: "
        "User unknown in local recipient table",
    )
    (event,) = parse_message(raw, received_at=RECEIVED_AT)
    assert event.status == "4.1.1"
    outcome = classify(event)
    assert (outcome.category, outcome.detail) == (Category.SOFT_BOUNCE, "user_unknown")


def test_sendmail_expanded_from_after_the_reason_line():
    raw = _text_bounce(
        "   ----- The following addresses had permanent fatal errors -----\n"
        "<kim@example.net>\n    (reason: 550 5.1.1 <kim@example.net>... User unknown)\n"
        "    (expanded from: <alias@example.org>)\n"
    )
    (event,) = parse_message(raw, received_at=RECEIVED_AT)
    assert event.recipient == "alias@example.org"
