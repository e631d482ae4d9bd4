"""Free-form MTA bounces: recipients, codes and diagnostics from the prose."""

from __future__ import annotations

from bounce_worker.domain.classify import Category, classify
from bounce_worker.parsers import parse_message
from bounce_worker.parsers.mta_text import failures_from_text, report_text
from tests.unit.parsers.conftest import RECEIVED_AT, fixture_bytes


def test_exim_bounce_recipient_code_status_and_original_headers():
    (event,) = parse_message(fixture_bytes("exim_text_bounce.eml"), received_at=RECEIVED_AT)
    assert event.recipient == "carol@example.com"
    assert event.status == "5.1.1"
    assert event.smtp_code == 550
    assert "does not exist" in event.diagnostic
    assert event.organization is None  # its X-Organization is not read (SPEC 7)
    assert event.list == "weekly.acme.sender.example"
    assert event.source == "exim"
    assert classify(event).category is Category.HARD_BOUNCE


def test_the_copy_of_the_original_message_is_not_read_as_the_report():
    text = "Sorry.\n\n<a@example.org>: 550 no such user\n\n--- Below this line is a copy of the message.\n\nTo: b@example.org\n"
    assert "b@example.org" not in report_text(text)
    assert [f.recipient for f in failures_from_text(text, set())] == ["a@example.org"]


def test_qmail_style_two_recipients_each_with_its_own_reason():
    text = (
        "Hi. This is the qmail-send program at mx.sender.example.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n\n"
        "<one@example.org>:\nRemote host said: 550 5.1.1 <one@example.org>... User unknown\n\n"
        "<two@example.net>:\nRemote host said: 552 5.2.2 <two@example.net>... Mailbox full\n"
    )
    one, two = failures_from_text(text, set())
    assert (one.recipient, one.status, one.smtp_code) == ("one@example.org", "5.1.1", 550)
    assert (two.recipient, two.status, two.smtp_code) == ("two@example.net", "5.2.2", 552)
    assert "Mailbox full" not in one.diagnostic


def test_sender_and_support_addresses_are_not_recipients():
    text = (
        "For further assistance, please contact <help@isp.example>\n"
        "SMTP error after MAIL FROM:<me@sender.example>: 550 rejected\n"
        "failed: victim@example.org\n"
    )
    found = failures_from_text(text, {"me@sender.example"})
    assert [f.recipient for f in found] == ["victim@example.org"]


def test_report_without_any_code_is_a_permanent_failure_unless_it_says_delay():
    raw = (
        b"From: MAILER-DAEMON@mx.example\nTo: bounces@sender.example\n"
        b"Subject: Undeliverable: hello\nMessage-ID: <x1@mx.example>\n\n"
        b"Your message did not reach the following recipient(s):\n\n"
        b"zed@example.org on Sun, 22 Nov 2026\n    The recipient name is not recognized\n"
    )
    (event,) = parse_message(raw, received_at=RECEIVED_AT)
    assert event.status == "5.0.0"
    assert classify(event).category is Category.HARD_BOUNCE
    delayed = raw.replace(b"did not reach", b"has been delayed and will be retried for")
    (event,) = parse_message(delayed, received_at=RECEIVED_AT)
    assert event.status == "4.0.0"
    assert classify(event).category is Category.SOFT_BOUNCE


def test_final_reports_that_say_try_again_only_as_advice_stay_permanent():
    # qmail-send.c: "I'm not going to try again; this message has been in the queue too
    # long." ends a permanent failure; Gmail's "** Domain not found **" report advises "Check
    # for typos or unnecessary spaces and try again." Neither is a delay notice.
    qmail = (
        b"From: MAILER-DAEMON@mx.example\nTo: bounces@sender.example\n"
        b"Subject: failure notice\nMessage-ID: <q1@mx.example>\n\n"
        b"Hi. This is the qmail-send program at mx.example.\n"
        b"I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        b"This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        b"<kim@example.org>:\n"
        b"I'm not going to try again; this message has been in the queue too long.\n"
    )
    (event,) = parse_message(qmail, received_at=RECEIVED_AT)
    assert (event.recipient, event.status) == ("kim@example.org", "5.0.0")
    assert classify(event).detail == "expired"
    gmail = (
        b"From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n"
        b"To: bounces@sender.example\nSubject: Delivery Status Notification (Failure)\n"
        b"Message-ID: <g1@mx.example>\n\n** Domain not found **\n\n"
        b"Your message wasn't delivered to kim@example.invalid because the domain "
        b"example.invalid couldn't be found. Check for typos or unnecessary spaces and try "
        b"again.\n"
    )
    (event,) = parse_message(gmail, received_at=RECEIVED_AT)
    assert event.status == "5.0.0"
    assert classify(event).category is Category.HARD_BOUNCE


def test_a_crlf_mail_reads_as_its_lf_copy():
    # RFC 5321/5322 line ends are CRLF (mail taken from SMTP or LMTP keeps them); the text
    # parsers split lines at LF, so the decoded text is normalized once. An SES notification
    # by e-mail whose long JSON line a relay broke with "!", a line end and a space only
    # decodes when that line end is LF.
    body = fixture_bytes("ses_bounce_sns.json")
    cut = body.index(b"bounceSubType")
    body = body[:cut] + b"!\n " + body[cut:]
    lf = (
        b"From: no-reply@sns.amazonaws.com\nTo: bounces@sender.example\n"
        b"Subject: AWS Notification Message\nMessage-ID: <s1@sns.example>\n\n" + body
    )
    crlf = lf.replace(b"\n", b"\r\n")

    def read(raw: bytes) -> list[tuple]:
        events = parse_message(raw, received_at=RECEIVED_AT)
        return [(e.recipient, e.status, e.diagnostic) for e in events]

    assert read(crlf) == read(lf)
    assert [r for r, _, _ in read(crlf)] == ["jane@example.com", "richard@example.com"]


def test_exchange_admin_section_gives_each_recipient_its_own_reply():
    # Exchange 2010+ NDR text: a user-facing paragraph per recipient ("Your message wasn't
    # delivered because the recipient's email provider rejected it."), then "Diagnostic
    # information for administrators" naming each again with "Remote Server returned
    # '<reply>'": the reply belongs to that recipient, not the first paragraph's words.
    raw = fixture_bytes("formats/exchange2010_two_recipients.eml")
    kim, bob = parse_message(raw, received_at=RECEIVED_AT)
    assert (kim.recipient, kim.status, kim.smtp_code) == ("kim@example.net", "5.1.1", 550)
    assert (bob.recipient, bob.status, bob.smtp_code) == ("bob@example.com", "5.2.2", 552)
    assert classify(kim).category is Category.HARD_BOUNCE
    assert classify(bob).category is Category.MAILBOX_FULL


def test_sendmail_transcript_gives_each_listed_recipient_its_reply():
    # Sendmail without a DSN part (savemail.c): "----- The following addresses had permanent
    # fatal errors -----" lists the addresses alone, the replies follow in the transcript.
    raw = fixture_bytes("formats/sendmail_two_recipients.eml")
    kim, bob = parse_message(raw, received_at=RECEIVED_AT)
    assert (kim.recipient, kim.status, kim.smtp_code) == ("kim@example.net", "5.1.1", 550)
    assert (bob.recipient, bob.status, bob.smtp_code) == ("bob@example.com", "5.2.2", 552)


def test_every_address_of_a_quoted_to_line_is_a_quotation():
    # Reports that quote the original's headers ("To: a, b") name a failure elsewhere; the
    # second address of the quoted line is no more a failure than the first.
    text = (
        "Your message\n\n  To: kim@example.org, bob@example.net\n  Subject: hello\n\n"
        "was not delivered to:\n\n  kim@example.org\n\nbecause:\n\n  User kim not listed in "
        "Domino Directory\n"
    )
    assert [f.recipient for f in failures_from_text(text, set())] == ["kim@example.org"]


def test_notes_failure_reasons_pair_each_address_with_the_reason_above_it():
    # Lotus Notes/Domino text report: "------- Failure Reasons  --------", then each
    # recipient's reason on the line above its address (Notes router delivery failure
    # report). Read top-down, each address used to take the next one's reason.
    text = (
        "------- Failure Reasons  --------\n\n"
        "User not listed in public Name & Address Book\nkim@example.net\n"
        "Mailbox is full\nbob@example.net\n\n"
        "------- Returned Message --------\nTo: kim@example.net, bob@example.net\n"
    )
    kim, bob = failures_from_text(text, set())
    assert (kim.recipient, bob.recipient) == ("kim@example.net", "bob@example.net")
    assert "not listed" in kim.diagnostic and "full" not in kim.diagnostic
    assert "full" in bob.diagnostic and "not listed" not in bob.diagnostic


def test_a_list_of_addresses_shares_the_reason_printed_after_it():
    # Old Gmail: "Delivery to the following recipients failed permanently:" lists the
    # addresses, then one "Technical details of permanent failure" whose quoted reply names
    # only the first; Notes/Domino "was not delivered to: <list> because: <reason>".
    gmail = (
        "Delivery to the following recipients failed permanently:\n\n"
        "     kim@example.net\n     bob@example.net\n\n"
        "Technical details of permanent failure:\nGoogle tried to deliver your message, but it "
        "was rejected by the server for the recipient domain example.net by mx.example.net. "
        "[192.0.2.1].\n\nThe error that the other server returned was:\n"
        "550 5.1.1 <kim@example.net>... User unknown\n"
    )
    kim, bob = failures_from_text(gmail, set())
    assert (kim.status, kim.smtp_code) == ("5.1.1", 550)
    assert (bob.recipient, bob.status, bob.smtp_code) == ("bob@example.net", "5.1.1", 550)
    notes = (
        "Your message\n\n  Subject: hello\n\nwas not delivered to:\n\n"
        "  kim@example.net\n  bob@example.net\n\nbecause:\n\n  Mailbox is full\n"
    )
    assert all("Mailbox is full" in f.diagnostic for f in failures_from_text(notes, set()))


def test_a_recipient_without_a_code_beside_coded_ones_is_final_unless_its_text_defers():
    # qmail-send's final report (qmail-send.c: "This is a permanent error; I've given up."):
    # one recipient with a remote reply, one refused by qmail-local with bouncesaying(1)'s
    # "This address no longer accepts mail." (no code): it was an undefined soft bounce.
    # Postfix's DNS "Host not found, try again" (a temporary lookup failure) stays 4.0.0.
    qmail = (
        "Hi. This is the qmail-send program at mx.sender.example.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        "<kim@example.net>:\n192.0.2.1 does not like recipient.\n"
        "Remote host said: 451 4.3.0 Temporary lookup failure, try again later\n\n"
        "<bob@example.com>:\nThis address no longer accepts mail.\n\n"
        "<carl@example.org>:\nHost or domain name not found. Name service error for "
        "name=example.org type=MX: Host not found, try again\n"
    )
    raw = (
        "From: MAILER-DAEMON@mx.sender.example\nTo: bounces@sender.example\n"
        f"Subject: failure notice\nMessage-ID: <q2@mx.example>\n\n{qmail}"
    ).encode()
    kim, bob, carl = parse_message(raw, received_at=RECEIVED_AT)
    assert (kim.status, kim.smtp_code) == ("4.3.0", 451)
    assert (bob.recipient, bob.status) == ("bob@example.com", "5.0.0")
    assert classify(bob).category is Category.HARD_BOUNCE
    assert carl.status == "4.0.0"


def test_a_quoted_to_line_separated_by_semicolons_is_a_quotation():
    # Exchange 2003 NDR: "Your message\n\n  To: a; b\n  Subject: ..." quotes the original's
    # recipients with ";" between them, then "did not reach the following recipient(s):".
    text = (
        "Your message\n\n  To:      kim@example.net; bob@example.com\n  Subject: hello\n\n"
        "did not reach the following recipient(s):\n\n"
        "kim@example.net on Sun, 22 Nov 2026 10:00:05 +0000\n"
        "    The e-mail account does not exist at the organization this message was sent to.\n"
        "    <ex.example #5.1.1>\n\n"
        "bob@example.com on Sun, 22 Nov 2026 10:00:05 +0000\n"
        "    The recipient's mailbox is full.\n    <ex.example #5.2.2>\n"
    )
    kim, bob = failures_from_text(text, set())
    assert (kim.recipient, kim.status) == ("kim@example.net", "5.1.1")
    assert (bob.recipient, bob.status) == ("bob@example.com", "5.2.2")
    assert "does not exist" not in bob.diagnostic


def test_an_address_the_reply_quotes_is_not_another_failure():
    # Each MTA prints the failed recipient at the start of its line, then the reply, which
    # may quote another address: the recipient as the remote rewrote it, or the sender.
    cases = {
        # Exim transports/smtp.c: "SMTP error from remote mail server after RCPT TO:<x>:"
        "exim": "The following address(es) failed:\n\n  kim@example.net\n    host "
        "mx.example.net [192.0.2.1]\n    SMTP error from remote mail server after RCPT "
        "TO:<kim@mail.example.net>:\n    550 5.1.1 unknown user\n  bob@example.com\n    "
        "host mx.example.com [192.0.2.2]\n    SMTP error from remote mail server after RCPT "
        "TO:<bob@example.com>:\n    552 5.2.2 full\n",
        # Postfix bounce(8) folds the reply with an indent; smtpd's "<x>: Recipient address
        # rejected" / "<x>: Sender address rejected" quote the address the remote checked.
        "postfix": "<kim@example.net>: host mx.example.net[192.0.2.1] said: 550 5.1.1\n"
        "    <kim.k@mail.example.net>: Recipient address rejected: User unknown (in reply to "
        "RCPT TO command)\n\n<bob@example.com>: host mx.example.com[192.0.2.2] said: 550 "
        "5.7.1\n    <bounce-x@lists.example>: Sender address rejected: Access denied (in "
        "reply to RCPT TO command)\n",
        # qmail-remote: "Remote host said: <reply>"
        "qmail": "<kim@example.net>:\n192.0.2.1 does not like recipient.\nRemote host said: "
        "550 5.1.1 <kim.k@mail.example.net>... User unknown\nGiving up on 192.0.2.1.\n\n"
        "<bob@example.com>:\nConnected to 192.0.2.2 but sender was rejected.\nRemote host "
        "said: 550 5.1.0 <me@sender.example>... sender unknown\n",
    }
    for name, text in cases.items():
        found = [(f.recipient, f.status) for f in failures_from_text(text, set())]
        assert [r for r, _ in found] == ["kim@example.net", "bob@example.com"], name
        assert all(status for _, status in found), name
    # Old Gmail quotes the reply a blank line below the listed recipient.
    gmail = (
        "Delivery to the following recipient failed permanently:\n\n     kim@example.net\n\n"
        "Technical details of permanent failure:\nThe error that the other server returned "
        "was:\n550 5.1.1 <kim.k@mail.example.net>... User unknown\n"
    )
    (kim,) = failures_from_text(gmail, set())
    assert (kim.recipient, kim.status) == ("kim@example.net", "5.1.1")


def test_recipients_listed_on_one_line_share_the_text_after_it():
    # A report naming its failures on one line ("kim@x, bob@y", "to kim@x and bob@y"): the
    # first one's paragraph used to end where the second's name starts, on its own line,
    # leaving it no text at all.
    text = (
        "Delivery to the following recipients failed permanently:\n\n"
        "     kim@example.net, bob@example.net\n\n"
        "Technical details of permanent failure:\n550 5.1.1 User unknown\n"
    )
    kim, bob = failures_from_text(text, set())
    assert (kim.status, kim.smtp_code) == (bob.status, bob.smtp_code) == ("5.1.1", 550)
    prose = "Your message to kim@example.net and bob@example.net could not be delivered:\n"
    for failure in failures_from_text(prose + "mailbox is full\n", set()):
        assert "mailbox is full" in failure.diagnostic


def test_a_success_notice_in_text_form_is_a_delivered_event():
    # OpenSMTPD bounce.c sends its DSN notices as text: notice_success "Your message was
    # successfully delivered to these recipients." then "addr: 250 2.0.0 Ok". A 2.x.x status
    # (RFC 3463 class 2, success) is a delivery, as a DSN's "Action: delivered" is; it was
    # read as a soft bounce.
    raw = (
        b"From: Mailer Daemon <MAILER-DAEMON@mx.sender.example>\nTo: bounces@sender.example\n"
        b"Subject: Delivery status notification: success\nMessage-ID: <o9@mx.example>\n\n"
        b"    Hi!\n\n    This is the MAILER-DAEMON, please DO NOT REPLY to this e-mail.\n\n"
        b"    Your message was successfully delivered to these recipients.\n\n"
        b"kim@example.net: 250 2.0.0 Ok: queued as ABC\n\n"
        b"    Below is a copy of the original message:\n\nTo: kim@example.net\n\nhello\n"
    )
    (event,) = parse_message(raw, received_at=RECEIVED_AT)
    assert (event.type.value, event.recipient, event.status) == (
        "delivered",
        "kim@example.net",
        None,
    )


def test_a_transcripts_success_replies_are_not_the_failures_status():
    # Sendmail's transcript (savemail.c "----- Transcript of session follows -----") shows
    # the accepted RCPT's "250 2.1.5 Ok" above the refusal of DATA: the status is the
    # refusal's, not 2.1.5.
    text = (
        "   ----- Transcript of session follows -----\n... while talking to mx.example.net.:\n"
        ">>> RCPT To:<kim@example.net>\n<<< 250 2.1.5 Ok\n>>> DATA\n"
        "<<< 554 5.7.1 Message rejected as spam\n554 5.0.0 Service unavailable\n"
    )
    (kim,) = failures_from_text(text, set())
    assert (kim.recipient, kim.status, kim.smtp_code) == ("kim@example.net", "5.7.1", 554)


def test_a_recipient_named_only_by_display_name_is_found_in_the_returned_message():
    # Exchange 2000/2003 NDRs list a recipient resolved from the directory by its display
    # name: "The following recipient(s) cannot be reached:\n\n 'Kim K' on <date>". The
    # returned message's To: "Kim K" <kim@example.net> says which address that is; the mail
    # was dead-lettered ("names no failed recipient").
    raw = fixture_bytes("formats/exchange2003_display_name.eml")
    (event,) = parse_message(raw, received_at=RECEIVED_AT)
    assert (event.recipient, event.status) == ("kim@example.net", "5.0.0")
