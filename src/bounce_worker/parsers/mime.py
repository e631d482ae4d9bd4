"""Reading a bounce through its MIME tree: decoded headers, its own text, the original.

The tree itself (`Part`, `parse`) lives in `mime_part`; this module holds what the format
parsers ask of it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from email.header import decode_header, make_header

from bounce_worker.parsers._common import ADDRESS_RE, tidy_address
from bounce_worker.parsers.mime_part import MAX_DEPTH, Part, parse, parse_headers

__all__ = ["Part", "parse_headers"]


def load(raw: bytes) -> Part:
    return parse(raw)


def header(msg: Part, name: str) -> str:
    """Decoded (RFC 2047) header value with whitespace folded; '' when absent."""
    key = name.lower()
    cached = msg._decoded.get(key)
    if cached is not None:
        return cached
    value = msg.get(key) or ""
    if "=?" in value:
        with contextlib.suppress(UnicodeError, LookupError, ValueError, TypeError, AssertionError):
            value = str(make_header(decode_header(value)))
    value = " ".join(value.split())
    msg._decoded[key] = value
    return value


def addresses(value: str) -> list[str]:
    return [tidy_address(m.group(1)) for m in ADDRESS_RE.finditer(value or "")]


def walk_own(msg: Part) -> Iterator[Part]:
    """Leaf parts of the bounce itself, not descending into an attached original message."""
    if msg.children and msg.ctype.startswith("multipart/"):
        for child in msg.children:
            yield from walk_own(child)
    else:
        yield msg


def plain_text(msg: Part, limit: int = 64_000) -> str:
    """The bounce's own text/plain parts only (no HTML to strip)."""
    return "\n".join(p.text()[:limit] for p in walk_own(msg) if p.ctype == "text/plain")


def human_text(msg: Part, limit: int = 64_000) -> str:
    """The bounce's human-readable text: its text/plain parts, else its HTML, as text."""
    plain = [p.text()[:limit] for p in walk_own(msg) if p.ctype == "text/plain"]
    if plain:
        return "\n".join(plain)
    return "\n".join(_strip_html(p.text()[:limit]) for p in walk_own(msg) if p.ctype == "text/html")


_BLOCK_TAG_RE = re.compile(r"<br\s*/?>|</(?:p|div|tr|li|h\d)\s*>", re.I)
_TAG_RE = re.compile(r"<(?:script|style)\b.*?</(?:script|style)\s*>|<[^>]*>", re.S | re.I)


def _strip_html(html: str) -> str:
    """HTML -> text: block ends become line breaks, other tags spaces (two C-level passes)."""
    import html as html_module

    return html_module.unescape(_TAG_RE.sub(" ", _BLOCK_TAG_RE.sub("\n", html)))


def original_headers(msg: Part) -> Part | None:
    """Headers of the returned original message (message/rfc822 or text/rfc822-headers)."""
    for part in msg.walk():
        if part.ctype == "message/rfc822" and part.children:
            return part.children[0]
        if part.ctype in {"text/rfc822-headers", "message/rfc822-headers"}:
            return Part(None, b"", MAX_DEPTH, head=part.text().lstrip())
    return None


def headers_from_text(text: str) -> Part | None:
    """Parse a copy of the original message's headers found inline in a text bounce."""
    lines = text.lstrip("\n").splitlines()[:200]
    # Drop the indentation some MTAs add to the quoted copy (e.g. fml).
    indent = min((len(x) - len(x.lstrip(" ")) for x in lines[:5] if x.strip()), default=0)
    block = []
    for line in lines:
        if not line.strip():
            break
        block.append(line[indent:] if line[:indent].isspace() else line)
    headers = parse_headers("\n".join(block))
    return Part(headers, b"", MAX_DEPTH) if len(headers) >= 2 else None


def find_part(msg: Part, *types: str) -> Part | None:
    for part in msg.walk():
        if part.ctype in types:
            return part
    return None
