"""Bounce formats absent from the labeled dev corpus, one small synthetic mail each.

Each fixture in fixtures/formats/ was written from the format's documented markers (the MTA's
source or a parser library's description of where the recipient, the reply and the copy of
the original are), with placeholder addresses; none is copied from a test collection. The
test checks that the generic parsers find the failed recipient and the reason in each.
"""

from __future__ import annotations

import pytest

from bounce_worker.domain.classify import Category, classify
from bounce_worker.parsers import NotFeedback, parse_message
from tests.unit.parsers.conftest import RECEIVED_AT, fixture_bytes

HARD, FULL, SOFT, POLICY = (
    Category.HARD_BOUNCE,
    Category.MAILBOX_FULL,
    Category.SOFT_BOUNCE,
    Category.POLICY,
)


@pytest.mark.parametrize(
    ("name", "recipient", "category", "detail"),
    [
        # Apache James AbstractNotify: "Error message below:" ... "Message details: RCPT TO:"
        ("apachejames.eml", "kijitora@example.org", HARD, "user_unknown"),
        # Verizon vtext.com (James-based; "Size (in bytes): 512" is no reply code)
        ("verizon_vtext.eml", "5555551234@vtext.com", HARD, "user_unknown"),
        # Verizon MMS gateway: the number is named only in the returned copy
        ("verizon_vzwpix.eml", "0000000000@vzwpix.com", HARD, "user_unknown"),
        # BIGLOBE: "The following addresses had delivery problems" / "Non-delivered information"
        ("biglobe_full.eml", "taro@kijitora.biglobe.ne.jp", FULL, "mailbox_full"),
        ("biglobe_filtered.eml", "taro@kijitora.biglobe.ne.jp", POLICY, "filtered"),
        # A DSN inside a returned message/rfc822 (no multipart/report around it)
        ("x5.eml", "kijitora@example.jp", HARD, "user_unknown"),
        # SendGrid DSNs: Diagnostic-Code without a type; "Action: expired"
        ("sendgrid.eml", "kijitora@example.jp", HARD, "user_unknown"),
        ("sendgrid_expired.eml", "neko@example.jp", SOFT, "network_error"),
        ("aol.eml", "kijitora@example.invalid", HARD, "host_unknown"),
        # Facebook: its response code decides, whatever the 5.1.1 beside it
        ("facebook.eml", "kijitora@facebook.com", POLICY, "filtered"),
        # Google Workspace: the vague reply, and the report's "address couldn't be found"
        ("gsuite.eml", "kijitora@example.org", HARD, "user_unknown"),
        # Gmail's old text bounce: "(state 14)" is RCPT TO, "(state 17)" after DATA
        ("google_state14.eml", "userunknown@example.jp", HARD, "user_unknown"),
        ("google_state17.eml", "filtered@example.jp", POLICY, "filtered"),
        ("google_dns.eml", "hostunknown@example.invalid", HARD, "host_unknown"),
        ("google_mailboxfull.eml", "mailboxfull@example.jp", FULL, "mailbox_full"),
        ("office365.eml", "kijitora@example.com", HARD, "user_unknown"),
        ("messagelabs.eml", "kijitora@example.com", HARD, "user_unknown"),
        # Trend Micro InterScan MSS: the SMTP transcript, or only "Unable to deliver message to"
        ("trendmicro.eml", "kijitora@example.co.jp", HARD, "user_unknown"),
        ("trendmicro_domain.eml", "neko@example.jp", HARD, "user_unknown"),
        # MailMarshal: "Could not be delivered because of" / "The following recipients were
        # affected:" (the original sender in "From:" and "Original Sender:" is not one)
        ("mailmarshal.eml", "dummyuser@blabla.example.com", HARD, "user_unknown"),
        # Mimecast "-- address" lines; 5.4.1 "Recipient address rejected: Access denied"
        ("mimecast.eml", "sabineko@neko.example.org", HARD, "user_unknown"),
        # Deutsche Telekom / Smail 3 banners
        ("deutschetelekom.eml", "example@t-online.de", FULL, "mailbox_full"),
        ("smail3.eml", "kijitora@neko.nyaan.example.com", HARD, "host_unknown"),
        # Postfix bounce(8) without its log (bounce_notify_util.c "--- Delivery report
        # unavailable ---"): the returned message's recipient; smtpd(8)'s postmaster notice
        # "SMTP server: errors from" (smtpd_chat.c): the RCPT TO of its transcript
        ("postfix_report_unavailable.eml", "kim@example.net", SOFT, "undefined"),
        ("postfix_smtpd_notice.eml", "kim@example.net", HARD, "user_unknown"),
        # Templates of MTA sources, checked in the formats work (docs/notes):
        # hMailServer SEND_FAILED_NOTIFICATION (its default server messages) with the error
        # text of SMTPClientConnection.cpp ("Remote server replied:") or of
        # ExternalDelivery.cpp ("No mail servers appear to exists for the recipient's address")
        ("hmailserver.eml", "kim@example.net", HARD, "user_unknown"),
        ("hmailserver_connect.eml", "kim@nonexistent.example", HARD, "host_unknown"),
        # Sendmail 8 savemail.c errbody() without MIME: "permanent fatal errors", an alias's
        # "(expanded from: ...)" (named by the address it came from, as its DSN's
        # Final-Recipient is), and the "THIS IS A WARNING MESSAGE ONLY" delay notice
        ("sendmail_nomime.eml", "kim.k@example.org", HARD, "user_unknown"),
        ("sendmail_warning.eml", "kim@example.net", SOFT, "network_error"),
        # Postfix before 2.0 ("This is the Postfix program", "--- Undelivered message
        # follows ---") and bounce.cf.default's delay_template ("THIS IS A WARNING ONLY")
        ("postfix_program.eml", "kim@example.net", HARD, "user_unknown"),
        ("postfix_delay.eml", "kim@example.net", SOFT, "network_error"),
        # Exim deliver.c: the old "(Exim)" failure text ("SMTP error from remote mailer") and
        # the delay warning ("has not yet been delivered ... Delay reason:")
        ("exim_old.eml", "kim@example.net", HARD, "user_unknown"),
        ("exim_delay.eml", "kim@example.net", FULL, "mailbox_full"),
        # qmail-send.c's failure text with qmail-local's "Sorry, no mailbox here by that name.
        # (#5.1.1)"
        ("qmail_local.eml", "kim@example.net", HARD, "user_unknown"),
        # MDaemon's "PERMANENT fatal delivery errors" notice with its session transcript
        ("mdaemon.eml", "kim@example.net", HARD, "user_unknown"),
        # Haraka config/outbound.bounce_message ("Intended Recipients:", "Failure Reason:")
        ("haraka.eml", "kim@example.net", HARD, "user_unknown"),
        # OpenSMTPD bounce.c: the first releases' "Recipient: x" / "Reason:" notice, and the
        # delay notice ("A message is delayed for more than %s", notice_warning/_warning2)
        ("opensmtpd_old.eml", "kim@example.net", HARD, "user_unknown"),
        ("opensmtpd_delay.eml", "kim@example.net", SOFT, "network_error"),
        # Microsoft SMTPSVC (IIS/Exchange 2000-2003): "Delivery to the following recipients
        # failed." with its DSN part, and the same text alone (no reason given: soft)
        ("smtpsvc_dsn.eml", "kim@example.net", HARD, "user_unknown"),
        ("smtpsvc_text.eml", "kim@example.net", SOFT, "undefined"),
        # Courier module.dsn (dsn.C, dsnfailed.txt, dsndelayed.txt): Status is always 5.0.0 or
        # 4.0.0, the reply in Diagnostic-Code, a connection failure only in X-Network-Error,
        # and a delayed DSN has no diagnostic field at all (the text's " <<< " reply is it)
        ("courier_failed.eml", "kim@example.net", HARD, "user_unknown"),
        ("courier_neterr.eml", "kim@example.net", SOFT, "network_error"),
        ("courier_delayed.eml", "kim@example.net", FULL, "mailbox_full"),
        # Exchange Online's NDR as Microsoft Learn "Non-delivery reports in Exchange Online"
        # lays it out ("Your message to x couldn't be delivered", "Reported error:"), and the
        # Exchange delay DSN ("Delivery is delayed to these recipients or groups")
        ("exo_enhanced.eml", "kim@example.net", HARD, "user_unknown"),
        ("exo_mailbox_full.eml", "kim@example.net", FULL, "mailbox_full"),
        ("exchange_delay.eml", "kim@example.net", SOFT, "expired"),
        # SmarterMail "Could not deliver message to the following recipient(s):" with
        # "Failed Recipient:" / "Reason:" (the texts a hosting provider's KB quotes:
        # kb.indsoft.net "Common email delivery errors"); the domain's storage limit is the
        # receiving system's (soft), not the recipient's mailbox
        ("smartermail_nomx.eml", "kim@example.invalid", HARD, "host_unknown"),
        ("smartermail_full.eml", "kim@example.net", FULL, "mailbox_full"),
        ("smartermail_domainsize.eml", "kim@example.net", SOFT, "system_full"),
        ("smartermail_remote.eml", "kim@example.net", HARD, "user_unknown"),
        # Symantec/Broadcom Messaging Gateway's NDR (Broadcom KB 157433 "Bounce customization
        # in Messaging Gateway"): Postfix's text without its first line
        ("symantec_smg.eml", "kim@example.net", HARD, "user_unknown"),
    ],
)
def test_format(name: str, recipient: str, category: Category, detail: str) -> None:
    (event,) = parse_message(fixture_bytes(f"formats/{name}"), received_at=RECEIVED_AT)
    assert event.recipient == recipient
    outcome = classify(event)
    assert (outcome.category, outcome.detail) == (category, detail)


def test_haraka_reason_quoting_one_of_two_recipients_is_that_ones() -> None:
    # Haraka's bounce names all recipients on one line and one "Failure Reason:". A reason
    # that quotes one of them (the reply to its RCPT TO) says nothing of the other, which
    # stays an undefined soft bounce rather than borrowing a user-unknown.
    raw = fixture_bytes("formats/haraka_two_recipients.eml")
    kim, bob = parse_message(raw, received_at=RECEIVED_AT)
    assert (kim.recipient, kim.status, kim.smtp_code) == ("kim@example.net", "5.1.1", 550)
    assert classify(kim).detail == "user_unknown"
    assert (bob.recipient, bob.status, bob.smtp_code) == ("bob@example.net", "5.0.0", None)
    assert classify(bob).category is SOFT
    # A reason naming neither is both recipients'.
    shared = raw.replace(
        b"550 5.1.1 <kim@example.net>: Recipient address rejected: User unknown in virtual "
        b"mailbox table",
        b"554 5.4.7 delivery expired (message too old)",
    )
    events = parse_message(shared, received_at=RECEIVED_AT)
    assert [(e.recipient, e.status, classify(e).detail) for e in events] == [
        ("kim@example.net", "5.4.7", "expired"),
        ("bob@example.net", "5.4.7", "expired"),
    ]


def test_courier_network_error_field_is_the_diagnostic() -> None:
    # Courier module.dsn/dsn.C print_network_error: a connection failure is written as
    # "X-Network-Error: <text>" and no Diagnostic-Code; that text is the failure's reason.
    (event,) = parse_message(fixture_bytes("formats/courier_neterr.eml"), received_at=RECEIVED_AT)
    assert event.diagnostic is not None
    assert event.diagnostic.startswith("Connection refused")


def test_sendmail_transient_recipient_beside_a_permanent_one_is_a_delay() -> None:
    # Sendmail 8 savemail.c errbody(): "The following addresses had permanent fatal errors"
    # then "... transient non-fatal errors"; the transcript names the deferred one with its
    # error and no code ("<bob@x>... Deferred: Connection timed out with x.", err.c usrerr).
    kim, bob = parse_message(fixture_bytes("formats/sendmail_mixed.eml"), received_at=RECEIVED_AT)
    assert (kim.recipient, kim.status, classify(kim).detail) == (
        "kim@example.net",
        "5.1.1",
        "user_unknown",
    )
    assert (bob.recipient, bob.status) == ("bob@example.com", "4.0.0")
    assert "Deferred: Connection timed out" in (bob.diagnostic or "")
    assert (classify(bob).category, classify(bob).detail) == (SOFT, "network_error")


def test_a_relay_notice_is_no_bounce() -> None:
    # Microsoft SMTPSVC's "Delivery Status Notification (Relay)": Action: relayed, Status
    # 2.0.0 (RFC 3464: delivered on to a system that sends no DSN). Its prose lists the
    # recipient, which the text parser used to read as an undefined failure (5.0.0).
    raw = fixture_bytes("formats/smtpsvc_relay.eml")
    with pytest.raises(NotFeedback, match="relayed"):
        parse_message(raw, received_at=RECEIVED_AT)
    # A failed recipient beside a relayed one is still reported.
    mixed = raw.replace(
        b"Action: relayed\nStatus: 2.0.0\n",
        b"Action: relayed\nStatus: 2.0.0\n\nFinal-Recipient: rfc822;bob@example.com\n"
        b"Action: failed\nStatus: 5.1.1\n",
    )
    (event,) = parse_message(mixed, received_at=RECEIVED_AT)
    assert (event.recipient, event.status) == ("bob@example.com", "5.1.1")
