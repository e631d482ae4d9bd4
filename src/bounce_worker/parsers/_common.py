"""Shared pieces of every parser: the error types, event construction, ids, dates, codes.

Every parser builds its events through `make_event`, which goes through `Event.from_dict`, so a
parser can never hand the service an event the queue consumer would reject: a bad address
becomes a `ParseError` with a one-line reason instead.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from bounce_worker.domain.events import Event, InvalidEvent


class ParseError(InvalidEvent):
    """Nothing usable could be extracted; the message is the one-line dead-letter reason."""


class NotFeedback(ParseError):
    """Recognised, but not feedback (an auto-reply): recorded as ignored, not dead-lettered."""


# RFC 5321 addresses as they appear in bounce prose: dot-atom local part, dotted host name.
# Deliberately narrower than RFC 5322 (no quoted local parts): bounce texts wrap addresses
# in quotes, brackets and punctuation that must not become part of the match.
ADDRESS_RE = re.compile(
    r"(?<![\w.+=/%-])((?:\"[^\"\r\n@]{1,64}\"|[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})(?![\w-])"
)
# RFC 3463 enhanced status codes (class.subject.detail); not part of a longer dotted number.
# (The look-behind comes after the first digit so the pattern starts with a character class,
# which the regex engine scans for quickly.)
STATUS_RE = re.compile(r"([245])(?<![\w.][245])\.(\d{1,3})\.(\d{1,3})(?![\w]|\.\d)")
# SMTP reply codes: three digits standing alone, followed by a space, a hyphen (multi-line
# reply), or the end; the look-behind keeps IP octets, ports and times out.
REPLY_RE = re.compile(r"([45])(?<![\w.:/=#-][45])([0-5]\d)(?=[ \t-]|$)(?![ \t-]?\d{2,}[^.])", re.M)


def first_status(text: str | None) -> str | None:
    if not text:
        return None
    match = STATUS_RE.search(text)
    return ".".join(match.groups()) if match else None


def first_reply_code(text: str | None) -> int | None:
    if not text:
        return None
    match = REPLY_RE.search(text)
    return int(match.group(1) + match.group(2)) if match else None


def clean_status(value: str | None) -> str | None:
    """A Status field's value if it is an enhanced code (some MTAs put prose there)."""
    return first_status(value.strip()) if value else None


def one_line(text: str | None, limit: int = 2000) -> str | None:
    """Diagnostics are stored on a transition: whitespace folded to single spaces, bounded."""
    if not text:
        return None
    folded = " ".join(text.split())
    return folded[:limit] or None


def parse_date(value: str | None) -> datetime | None:
    """RFC 5322 date -> aware UTC; a date without zone is taken as UTC; junk -> None."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(" ".join(str(value).split()))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def digest(*parts: str | bytes | None) -> str:
    """Short stable hash of the input: the same mail fed twice gives the same event ids."""
    h = hashlib.sha256()
    for part in parts:
        if part is None:
            continue
        h.update(part if isinstance(part, bytes) else part.encode("utf-8", "surrogateescape"))
        h.update(b"\x00")
    return h.hexdigest()[:24]


def make_event(**fields: Any) -> Event:
    """Validate through Event.from_dict; any problem becomes a ParseError with its reason."""
    data = {k: v for k, v in fields.items() if v is not None}
    when = data.get("occurred_at")
    if isinstance(when, datetime):
        data["occurred_at"] = when.astimezone(UTC).isoformat()
    try:
        return Event.from_dict(data)
    except ParseError:
        raise
    except InvalidEvent as exc:
        raise ParseError(str(exc)) from None
