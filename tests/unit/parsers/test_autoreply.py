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
