"""The caps of limits.MailLimits, each on a mail built to cross it (docs/hardening.md)."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from bounce_worker import limits
from bounce_worker.limits import MailLimits
from bounce_worker.parsers import ParseError, parse_message
from bounce_worker.parsers.mime import decode_words, header, load
from tests.unit.parsers.conftest import RECEIVED_AT

REPO = Path(__file__).resolve().parents[3]
HEAD = b"From: MAILER-DAEMON@mx.example\nTo: sender@example.org\nSubject: Undelivered Mail\n"


def test_charsets_outside_the_allow_list_decode_as_replacement_text() -> None:
    assert limits.codec("UTF8") == "utf-8"
    assert limits.codec('"iso-8859-1"') == "iso8859-1"
    assert limits.codec("windows-1251") == "cp1251"
    for hostile in ("punycode", "idna", "utf-7", "rot13", "base64_codec", "zlib", "nonsense"):
        assert limits.codec(hostile) is None, hostile
    raw = HEAD + b"Content-Type: text/plain; charset=punycode\n\n"
    raw += b"<gone@example.net>: 550 5.1.1 user unknown\n" + b"abcdefghij" * 50_000
    part = load(raw)
    assert part.text().startswith("<gone@example.net>: 550 5.1.1")
    (event,) = parse_message(raw, received_at=RECEIVED_AT)
    assert event.recipient == "gone@example.net" and event.status == "5.1.1"


def test_encoded_words_decoded_in_one_pass_up_to_the_cap() -> None:
    # Adjacent words in one charset are decoded together: "é" split across two words.
    split = "=?utf-8?b?w6k=?= =?utf-8?q?=C3?= =?utf-8?q?=A9?= and =?iso-8859-1?q?caf=E9?="
    assert decode_words(split) == "éé and café"
    assert decode_words("=?punycode?q?abc?=") == "abc"  # not an allowed charset: as UTF-8
    many = " ".join(["=?utf-8?q?x?="] * 50)
    capped = MailLimits(max_encoded_words=10)
    with limits.applied(capped):
        out = decode_words(many)
    assert out.startswith("x" * 10) and out.count("=?utf-8?q?x?=") == 40


def test_a_huge_subject_is_read_up_to_the_header_cap() -> None:
    subject = b"=?utf-8?q?Undelivered_mail?= " * 60_000  # 1.7 MB of encoded words
    raw = HEAD.replace(b"Subject: Undelivered Mail\n", b"Subject: " + subject + b"\n")
    raw += b"\n<gone@example.net>: 550 5.1.1 user unknown\n"
    msg = load(raw)
    assert len(header(msg, "Subject")) <= limits.DEFAULT.max_header_bytes
    (event,) = parse_message(raw, received_at=RECEIVED_AT)
    assert event.recipient == "gone@example.net"


def test_header_fields_and_block_are_capped() -> None:
    fields = b"".join(b"X-Filler-%d: value\n" % i for i in range(5000))
    with limits.applied(MailLimits(max_headers=100)):
        msg = load(HEAD + fields + b"\nbody\n")
        assert len(msg.headers) == 100
    with limits.applied(MailLimits(max_header_bytes=2048)):
        msg = load(HEAD + fields + b"\nbody\n")
        assert sum(len(k) + len(v) for k, v in msg.headers) < 2048
        assert msg.body == b"body\n"  # the body still starts after the blank line


def _multipart(parts: list[bytes], boundary: str) -> bytes:
    out = f"Content-Type: multipart/mixed; boundary={boundary}\n\n".encode()
    for part in parts:
        out += f"--{boundary}\n".encode() + part + b"\n"
    return out + f"--{boundary}--\n".encode()


def test_mime_parts_and_nesting_are_capped_and_nesting_copies_no_body() -> None:
    leaf = b"Content-Type: text/plain\n\nhello"
    wide = HEAD + _multipart([leaf] * 2000, "wide")
    with limits.applied(MailLimits(max_parts=50)):
        assert len(load(wide).walk()) <= 51
    deep = b"Content-Type: text/plain\n\n" + b"x" * 100_000
    for level in range(30):
        deep = _multipart([leaf, deep], f"level{level}")
    msg = load(HEAD + deep)
    tree = msg.walk()
    depth, part = 0, msg
    while part.children:
        part, depth = part.children[-1], depth + 1
    assert depth == limits.DEFAULT.max_depth
    # Every part is a span of the one mail: no level holds a copy of its body.
    assert all(p._src is msg._src for p in tree)


def test_an_encoded_original_is_read_for_its_headers_only() -> None:
    original = b"From: a@example.org\nTo: gone@example.net\nX-Organization: acme\n\n"
    original += b"y" * 3_000_000
    encoded = base64.encodebytes(original)
    part = b"Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n" + encoded
    msg = load(HEAD + _multipart([b"Content-Type: text/plain\n\nfailed", part], "b"))
    rfc822 = msg.children[1]
    assert header(rfc822.children[0], "X-Organization") == "acme"


def test_more_recipients_than_the_cap_stop_the_parse() -> None:
    lines = b"".join(b"<u%d@example.net>: 550 5.1.1 user unknown\n" % i for i in range(100_000))
    raw = HEAD + b"\nCould not deliver to:\n" + lines
    with pytest.raises(ParseError, match="more than 100 recipients"):
        parse_message(raw, received_at=RECEIVED_AT)
    few = HEAD + b"\nCould not deliver to:\n" + b"".join(lines.splitlines(True)[:3])
    assert len(parse_message(few, received_at=RECEIVED_AT, limits=MailLimits())) == 3
    with pytest.raises(ParseError, match="more than 2 recipients"):
        parse_message(few, received_at=RECEIVED_AT, limits=MailLimits(max_recipients=2))


def test_more_dsn_recipients_than_the_cap_stop_the_parse() -> None:
    blocks = b"".join(
        b"Final-Recipient: rfc822; u%d@example.net\nAction: failed\nStatus: 5.1.1\n\n" % i
        for i in range(101)
    )
    raw = HEAD + b"Content-Type: multipart/report; report-type=delivery-status; boundary=r\n\n"
    raw += b"--r\nContent-Type: text/plain\n\nfailed\n--r\n"
    raw += b"Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx\n\n" + blocks
    raw += b"--r--\n"
    with pytest.raises(ParseError, match="more than 100 recipients"):
        parse_message(raw, received_at=RECEIVED_AT)


def test_an_oversized_mail_is_refused_with_its_size_and_digest() -> None:
    raw = HEAD + b"\n" + b"z" * 5000
    with pytest.raises(ParseError) as info:
        parse_message(raw, received_at=RECEIVED_AT, limits=MailLimits(max_bytes=4096))
    reason = str(info.value)
    assert f"payload of {len(raw)} bytes" in reason
    assert hashlib.sha256(raw).hexdigest() in reason and "\n" not in reason


def test_bench_smoke_run_meets_its_goals_on_small_mails() -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "hostile.py"),
            "--scale",
            "0.01",
            "--no-worker",
            "--check",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    lines = [ln for ln in out.stdout.splitlines() if " s CPU " in ln]
    assert len(lines) == 10  # five mails and their doubles
    assert "goals met" in out.stdout
