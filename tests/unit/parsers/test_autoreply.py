"""Auto-replies and vacation notices are recognised and are not bounces."""

from __future__ import annotations

import pytest

from bounce_worker.parsers import NotFeedback, ParseError, parse_message
from tests.unit.parsers.conftest import RECEIVED_AT, fixture_bytes


def test_vacation_auto_reply_is_not_feedback():
    with pytest.raises(NotFeedback) as info:
        parse_message(fixture_bytes("vacation_autoreply.eml"), received_at=RECEIVED_AT)
    assert isinstance(info.value, ParseError)  # callers that only catch ParseError stay safe
    assert "auto-reply" in str(info.value)


@pytest.mark.parametrize(
    "header",
    [
        b"Auto-Submitted: auto-replied\n",
        b"X-Autoreply: yes\n",
        b"Precedence: auto_reply\n",
        b"X-Apple-Action: VACATION\n",
    ],
)
def test_auto_reply_headers(header):
    raw = b"From: a@example.org\nTo: b@sender.example\nSubject: Re: hello\n" + header + b"\nAway.\n"
    with pytest.raises(NotFeedback):
        parse_message(raw, received_at=RECEIVED_AT)


@pytest.mark.parametrize(
    "subject", [b"Out of Office: hello", b"Automatic reply: hello", b"Auto reply: x"]
)
def test_auto_reply_subjects(subject):
    raw = b"From: a@example.org\nTo: b@sender.example\nSubject: " + subject + b"\n\nAway.\n"
    with pytest.raises(NotFeedback):
        parse_message(raw, received_at=RECEIVED_AT)


def test_an_exim_bounce_marked_auto_replied_is_still_a_bounce():
    events = parse_message(fixture_bytes("exim_text_bounce.eml"), received_at=RECEIVED_AT)
    assert events[0].recipient == "carol@example.com"


def _challenge(headers: str) -> bytes:
    return (
        f"{headers}To: news@sender.example\nMessage-ID: <c1@example.org>\n\n"
        "I am protecting myself from spam. Please confirm you are a person by clicking:\n"
        "https://challenge.example.org/confirm?id=1 (kim@example.org)\n"
    ).encode()


@pytest.mark.parametrize(
    "headers",
    [
        # TMDA's confirmation request carries its X-Delivery-Agent header
        "From: kim-confirm@example.org\nX-Delivery-Agent: TMDA/1.1.12\nSubject: Re: hello\n",
        # the services' own sender domains
        "From: SpamArrest <verify@spamarrest.com>\nSubject: hello\n",
        # the subjects their templates use
        "From: kim@example.org\nSubject: Please confirm your message\n",
        "From: kim@example.org\nSubject: Sender verification required: hello\n",
        "From: kim@example.org\nSubject: Add me to your whitelist\n",
    ],
)
def test_challenge_response_requests_are_not_bounces(headers):
    with pytest.raises(NotFeedback):
        parse_message(_challenge(headers), received_at=RECEIVED_AT)


def test_a_bounce_about_a_failed_sender_verification_is_still_a_bounce():
    raw = (
        b"From: Mail Delivery System <Mailer-Daemon@mx.example.org>\n"
        b"To: news@sender.example\nSubject: Mail delivery failed: returning message to sender\n"
        b"Message-ID: <c2@mx.example.org>\n\n"
        b"  kim@example.org\n    SMTP error from remote mail server after RCPT TO:"
        b"<kim@example.org>:\n    550 5.1.1 Sender verification failed: user unknown\n"
    )
    (event,) = parse_message(raw, received_at=RECEIVED_AT)
    assert event.recipient == "kim@example.org"
