"""mbox files -> raw messages."""

from __future__ import annotations

from bounce_worker.parsers import parse_message, split_mbox
from tests.unit.parsers.conftest import RECEIVED_AT, fixture_bytes


def test_split_mbox_yields_each_message_and_unquotes_from_lines():
    one = fixture_bytes("exim_text_bounce.eml")
    two = fixture_bytes("arf_abuse.eml")
    data = (
        b"From MAILER-DAEMON Sun Nov 22 11:00:02 2026\n" + one + b"\n"
        b"From fbl@example-isp.net Sun Nov 22 12:00:00 2026\n"
        + two.replace(b"Hello Dave", b">From Dave")
    )
    messages = list(split_mbox(data))
    assert len(messages) == 2
    assert b"From Dave" in messages[1] and b">From Dave" not in messages[1]
    assert parse_message(messages[0], received_at=RECEIVED_AT)[0].recipient == "carol@example.com"


def test_a_single_message_without_from_line_and_empty_input():
    assert list(split_mbox(b"Subject: x\n\nbody\n")) == [b"Subject: x\n\nbody\n"]
    assert list(split_mbox(b"")) == []
