"""Shared pieces of every parser: the error types, event construction, ids, dates, codes.

Every parser builds its events through `make_event`, which goes through `Event.from_dict`, so a
parser can never hand the service an event the queue consumer would reject: a bad address
becomes a `ParseError` with a one-line reason instead.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

from bounce_worker import limits
from bounce_worker.domain.addresses import plain_address
from bounce_worker.domain.events import (
    _FIELDS,
    MAX_ID_LENGTH,
    Channel,
    Event,
    EventType,
    InvalidEvent,
    _enum,
    _smtp_code,
    _status,
    _text,
    parse_instant,
)


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


def iter_addresses(text: str) -> Iterator[re.Match[str]]:
    """`ADDRESS_RE.finditer(text)`, reading only the lines that hold an '@'.

    The same matches, in the same order: every match holds exactly one '@' (neither part
    may contain one) and lies within one line (no part may contain a line break), so the
    regex only needs to run on a line with an '@' in it, from the last match's end or the
    line's start, with the line's end as its end (the closing look-ahead sees the end of
    the string there where it would see the line break: neither is a word character or a
    hyphen). A bounce's prose is mostly lines without an address; scanning them was most
    of the regex's cost (its leading look-behind defeats the engine's fast prefix scan).
    A unit test checks the two agree (tests/unit/parsers/test_common.py).
    """
    search = ADDRESS_RE.search
    pos = 0
    end = -1  # end of the line of the last '@' (kept: a line may hold many addresses)
    while (at := text.find("@", pos)) >= 0:
        if at > end:
            end = text.find("\n", at)
            if end < 0:
                end = len(text)
        start = max(pos, text.rfind("\n", pos, at) + 1)
        match = search(text, start, end)
        if match is None:
            pos = end
            continue
        yield match
        pos = match.end()


# Notations MTAs wrap around an address: RFC 3464 typed fields ("rfc822;"), Exchange's
# proxy-address notation ("SMTP:user@x", "SMTP=user@x" in its NDRs), "mailto:" links.
# Removed from the front of a field's value, and from the front of an address the prose
# regex matched ("=" is an atext character, so "SMTP=user@x" would otherwise match whole).
_ADDRESS_PREFIX = re.compile(r"\A(?:\s*(?:rfc822|smtp|x-?400|mailto|utf-8)\s*[;:=]\s*)+", re.I)
_ADDRESS_PAIRS = {"<": ">", '"': '"', "'": "'", "(": ")", "[": "]"}


def _unwrap(text: str) -> str:
    """Remove a notation prefix and enclosing brackets or quotes (pairs only: the quotes of
    a quoted local part, '"a..b"@x', stay)."""
    for _ in range(3):  # 'rfc822; "<SMTP:user@x>"'
        text = text.strip()
        if text[:6].lower().startswith(_PREFIX_STARTS):
            text = _ADDRESS_PREFIX.sub("", text, count=1).strip()
        if len(text) > 2 and _ADDRESS_PAIRS.get(text[0]) == text[-1]:
            text = text[1:-1]
        else:
            break
    return text.strip()


_PREFIX_STARTS = ("rfc822", "smtp", "x400", "x-400", "mailto", "utf-8")


_IMCEA_ESCAPE = re.compile(r"\+([0-9A-Fa-f]{2})")


def _imcea(address: str) -> str:
    """Exchange's IMCEA encapsulation of an SMTP address ("IMCEASMTP-kim+40example+2Eorg@
    exchange.example": '+' and two hex digits for each special character, Microsoft's
    "IMCEA" addressing): the address inside, when it is one."""
    local = address.rpartition("@")[0][len("imceasmtp-") :]
    inner = _IMCEA_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), local)
    match = ADDRESS_RE.fullmatch(inner)
    return match.group(1) if match else address


def tidy_address(address: str) -> str:
    """A matched address without a notation prefix or stray quotes and dots around it."""
    # (Runs on every address of every report: the plain case is two cheap tests.)
    if address[:6].lower().startswith(_PREFIX_STARTS) and _ADDRESS_PREFIX.match(address):
        address = _ADDRESS_PREFIX.sub("", address, count=1)
    if address[:10].lower() == "imceasmtp-":
        address = _imcea(address)
    if address[:1] in "'." or address[-1:] in "'.":
        local, _, domain = address.rpartition("@")
        clean = local.strip("'.")
        if clean and clean != local:
            address = f"{clean}@{domain}"
        address = address.rstrip(".")
    return address


def field_address(value: str | None, *, strict: bool = False) -> str | None:
    """The address of a recipient field (RFC 3464 Final-/Original-Recipient, X-Failed-
    Recipients): type prefix, quotes and angle brackets removed.

    strict: the whole value must be one address (Original-Recipient is used only when it is
    a valid address; RFC 3464 2.3.1 allows any address type there).
    """
    if not value:
        return None
    text = _unwrap(value)
    if strict:
        match = ADDRESS_RE.fullmatch(text)
        if match is None or match.group(1).startswith('"'):
            return None
        return match.group(1)
    match = ADDRESS_RE.search(text)
    return tidy_address(match.group(1)) if match else None


# RFC 3463 enhanced status codes (class.subject.detail); not part of a longer dotted number.
# (The look-behind comes after the first digit so the pattern starts with a character class,
# which the regex engine scans for quickly.)
STATUS_RE = re.compile(r"([245])(?<![\w.][245])\.(\d{1,3})\.(\d{1,3})(?![\w]|\.\d)")
# SMTP reply codes: three digits standing alone, followed by a space, a hyphen (multi-line
# reply), or the end; the look-behind keeps IP octets, ports and times out.
REPLY_RE = re.compile(r"([45])(?<![\w.:/=#-][45])([0-5]\d)(?=[ \t-]|$)(?![ \t-]?\d{2,}[^.])", re.M)


def check_recipients(count: int) -> None:
    """A mail naming more distinct recipients than `max_recipients` is dead-lettered (SPEC 7);
    parsers call this as they collect recipients, so they stop at the cap + 1."""
    cap = limits.active().max_recipients
    if count > cap:
        raise ParseError(
            f"mail names more than {cap} recipients, the limit (BOUNCE_WORKER_MAX_RECIPIENTS)"
        )


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
    return _parse_date(value)


@lru_cache(maxsize=256)  # a DSN repeats its dates for every recipient
def _parse_date(value: str) -> datetime | None:
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
    """Validate as Event.from_dict does; any problem becomes a ParseError with its reason."""
    data = {k: v for k, v in fields.items() if v is not None}
    try:
        recipient = data.get("recipient")
        if (
            data.get("channel", "email") == "email"
            and isinstance(recipient, str)
            and (plain := plain_address(recipient)) is not None
        ):
            return _simple_event(data, plain)
        when = data.get("occurred_at")
        if isinstance(when, datetime):
            data["occurred_at"] = when.astimezone(UTC).isoformat()
        return Event.from_dict(data)
    except ParseError:
        raise
    except InvalidEvent as exc:
        raise ParseError(str(exc)) from None


# A plain address (the normalizer's own fast path, domain/addresses.plain_address: nearly
# every real one) has its normal form without flanker's full RFC 5322 grammar, and building
# the event skips the parser, the dearest step of all. Everything else, and every other
# field, goes through the same validation as Event.from_dict; a unit test checks the two
# agree (tests/unit/parsers/test_common.py).
def _simple_event(data: dict[str, Any], recipient: str) -> Event:
    unknown = set(data) - _FIELDS
    if unknown:
        raise InvalidEvent(f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
    return Event(
        event_id=_text(data, "event_id", required=True, limit=MAX_ID_LENGTH),
        type=_enum(EventType, data, "type"),
        channel=Channel.EMAIL,
        recipient=recipient,  # normalized (plain_address)
        occurred_at=_instant(data.get("occurred_at")),
        organization=_text(data, "organization", limit=MAX_ID_LENGTH),
        list=_text(data, "list", limit=MAX_ID_LENGTH),
        status=_status(data.get("status")),
        smtp_code=_smtp_code(data.get("smtp_code")),
        diagnostic=_text(data, "diagnostic", truncate=True),
        source=_text(data, "source", limit=MAX_ID_LENGTH),
        feedback_type=_text(data, "feedback_type", limit=64),
    )


def _instant(value: Any) -> datetime:
    """An aware datetime passes as is (in UTC); anything else as Event.from_dict reads it."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    if isinstance(value, datetime):
        raise InvalidEvent("occurred_at has no timezone")
    return parse_instant(value, "occurred_at")
