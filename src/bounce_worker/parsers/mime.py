"""Reading a bounce through its MIME tree: decoded headers, its own text, the original.

The tree itself (`Part`, `parse`) lives in `mime_part`; this module holds what the format
parsers ask of it.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator

from bounce_worker import limits
from bounce_worker.parsers._common import iter_addresses, tidy_address
from bounce_worker.parsers.mime_part import MAX_DEPTH, Part, decode_bytes, parse, parse_headers

__all__ = ["Part", "parse_headers"]


def load(raw: bytes) -> Part:
    return parse(raw)


def header(msg: Part, name: str) -> str:
    """Decoded (RFC 2047) header value with whitespace folded; '' when absent."""
    key = name.lower()
    cached = msg._decoded.get(key)
    if cached is not None:
        return cached
    value = (msg.get(key) or "")[: limits.active().max_header_bytes]
    if "=?" in value:
        value = decode_words(value)
    value = " ".join(value.split())
    msg._decoded[key] = value
    return value


# RFC 2047 encoded word: =?charset(*language)?B|Q?text?=
_WORD = re.compile(r"=\?([^?\s*]{1,40})(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=")
_BLANK = re.compile(r"[ \t\r\n]*")


def decode_words(value: str) -> str:
    """RFC 2047 encoded words decoded, in one pass (linear in the value's length).

    At most `max_encoded_words` words are decoded (the rest of the value is kept as written);
    blanks between two encoded words are dropped (RFC 2047 6.2) and adjacent words in one
    charset are decoded together, so a character split across two words comes out whole.
    A charset outside the allow-list (limits.CHARSETS) decodes as UTF-8 with replacements.
    """
    out: list[str] = []
    run: list[bytes] = []  # bytes of adjacent words in `run_charset`
    run_charset = ""
    pos = 0
    cap = limits.active().max_encoded_words
    for count, match in enumerate(_WORD.finditer(value)):
        if count >= cap:
            break
        between = value[pos : match.start()]
        if not (run and _BLANK.fullmatch(between)):
            _flush(out, run, run_charset)
            run = []
            out.append(between)
        charset, encoding, text = match.groups()
        if run and charset.lower() != run_charset:
            _flush(out, run, run_charset)
            run = []
        run_charset = charset.lower()
        run.append(_word_bytes(encoding, text))
        pos = match.end()
    _flush(out, run, run_charset)
    out.append(value[pos:])
    return "".join(out)


def _word_bytes(encoding: str, text: str) -> bytes:
    data = text.encode("ascii", "replace")
    try:
        if encoding in "bB":
            return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
        return binascii.a2b_qp(data.replace(b"_", b" "))
    except (binascii.Error, ValueError):
        return data


def _flush(out: list[str], run: list[bytes], charset: str) -> None:
    if run:
        out.append(decode_bytes(b"".join(run), charset))


def addresses(value: str) -> list[str]:
    return [tidy_address(m.group(1)) for m in iter_addresses(value or "")]


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
            head = part.text().lstrip()[: limits.active().max_header_bytes]
            return Part(None, b"", MAX_DEPTH, head=head)
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
