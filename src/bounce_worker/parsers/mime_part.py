"""The MIME tree of a raw mail: `Part` and the splitting of headers, bodies and multiparts.

Why not `email.message_from_bytes` or flanker? Both build the full object tree of every part
(and the stdlib's feed parser is line-by-line Python), which costs more than all our format
rules together; bounces are read by the thousand. Here a part is split with `bytes.find`,
bodies are decoded only when asked for, and the returned original message is read for its
headers only, field by field. It never raises on broken structure: a missing boundary just
leaves one part.

Cost is linear in the mail's size (limits.py, docs/hardening.md): every part is a pair of
offsets into the one mail (nesting copies no body), a header block is read up to its cap,
at most `max_parts` parts nested at most `max_depth` levels are read, a body is decoded only
up to what its reader needs, and only from an allow-listed charset.
"""

from __future__ import annotations

import binascii
import re

from bounce_worker import limits

MAX_DEPTH = limits.DEFAULT.max_depth
_UNFOLD = re.compile(r"\n[ \t]+")  # literal first character: the regex engine skips ahead
# A header field: printable name without spaces or colon (RFC 5322 ftext), colon, value.
# (A greedy value: a lazy one before "[ \t]*$" is several times slower.)
# Values may keep trailing blanks: header() folds whitespace, field readers strip.
_FIELD = re.compile(r"^([!-9;-~]{1,80})[ \t]*:[ \t]*(.*)", re.M)
_CTYPE = re.compile(r"\s*([\w.+-]+/[\w.+-]+)")
_PARAM = re.compile(r'[;\s]\s*([\w.*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]+))')


class Part:
    """One MIME entity: headers, content type, body (offsets into the mail), sub-parts."""

    __slots__ = (
        "_all", "_decoded", "_end", "_flat", "_head", "_headers", "_index", "_low", "_src",
        "_start", "_text", "children", "ctype", "params",
    )  # fmt: skip

    def __init__(
        self,
        headers: list[tuple[str, str]] | None,
        body: bytes,
        depth: int = 0,
        head: str | None = None,
        *,
        span: tuple[int, int] | None = None,
        budget: list[int] | None = None,
    ) -> None:
        # `head`: a header block parsed only when first read (the returned original message,
        # whose headers most mails never need beyond one or two).
        # `span`: the body is body[span[0]:span[1]] (`body` is then the whole mail).
        self._head = head
        self._headers = headers
        self._index: dict[str, str] | None = None
        self._all: dict[str, list[str]] | None = None
        self._low: str | None = None
        self._decoded: dict[str, str] = {}  # header() results: Subject is read many times
        self._flat: list[Part] | None = None
        self._src = body
        self._start, self._end = span if span is not None else (0, len(body))
        self._text: str | None = None
        self.children: list[Part] = []
        self.params: dict[str, str] = {}
        self.ctype = "text/plain"
        if head is not None:
            return
        raw_type = self.get("Content-Type")
        if not raw_type:
            return
        # The first type/subtype token: some MTAs fold parameters without the ';'.
        ctype = _CTYPE.match(raw_type)
        if ctype:
            self.ctype = ctype.group(1).lower()
        if "=" in raw_type:
            # (findall gives '' for the branch that did not match: a quoted value, even an
            # empty one, leaves the bare one '', so `quoted or bare` is the value.)
            self.params = {
                name.lower(): quoted or bare
                for name, quoted, bare in _PARAM.findall(raw_type[:4096])
            }
        lim = limits.active()
        if depth >= lim.max_depth:
            return  # deeper parts stay opaque leaves
        if budget is None:
            budget = [lim.max_parts]
        if self.ctype.startswith("multipart/"):
            spans = _split(self._src, self._start, self._end, self.params.get("boundary"), budget)
            self.children = [
                _parse_span(self._src, a, b, depth + 1, budget) for a, b in spans if budget[0] > 0
            ]
        elif self.ctype == "message/rfc822" and budget[0] > 0:
            budget[0] -= 1
            # Only the original's headers are read: decode no more than a header block.
            head = self.decoded(lim.max_header_bytes + 4)
            self.children = [parse(head, depth + 1, headers_only=True)]

    # -- headers ----------------------------------------------------------------------
    @property
    def headers(self) -> list[tuple[str, str]]:
        if self._headers is None:
            self._headers = parse_headers(self._head or "")
            self._head = None
        return self._headers

    def get(self, name: str, default: str | None = None) -> str | None:
        if self._headers is None and self._head is not None:
            # Not parsed yet: find just this field (a substring search) instead.
            if self._low is None:
                self._low = "\n" + self._head.lower()
            value = _find_field(self._head, self._low, name.lower())
            return default if value is None else value
        if self._index is None:
            # First occurrence wins (reversed: earlier duplicates overwrite later ones).
            self._index = {k.lower(): v for k, v in reversed(self.headers)}
        return self._index.get(name.lower(), default)

    def get_all(self, name: str) -> list[str]:
        if self._all is None:
            every: dict[str, list[str]] = {}
            for k, v in self.headers:
                every.setdefault(k.lower(), []).append(v)
            self._all = every
        return self._all.get(name.lower(), [])

    def keys(self) -> list[str]:
        return [k for k, _ in self.headers]

    def get_content_type(self) -> str:
        return self.ctype

    def get_content_maintype(self) -> str:
        return self.ctype.split("/", 1)[0]

    def get_param(self, name: str) -> str | None:
        return self.params.get(name.lower())

    # -- body ---------------------------------------------------------------------------
    @property
    def body(self) -> bytes:
        """The raw (still transfer-encoded) body: a copy of its bytes, made when asked."""
        if self._start == 0 and self._end == len(self._src):
            return self._src
        return self._src[self._start : self._end]

    def head_of_body(self, size: int) -> bytes:
        """The first `size` bytes of the raw body (no copy of the rest)."""
        return self._src[self._start : min(self._end, self._start + size)]

    def decoded(self, limit: int | None = None) -> bytes:
        """The body, transfer-decoded; with `limit`, at least its first `limit` bytes (only
        about that much of the encoded body is read)."""
        cte = (self.get("Content-Transfer-Encoding") or "").strip().lower()
        if limit is None:
            raw = self.body
        else:
            # base64 and quoted-printable ("=XX") never take more than three times the bytes
            # they give, line breaks included.
            encoded = cte in {"base64", "quoted-printable"}
            raw = self.head_of_body(3 * limit + 8 if encoded else limit)
        try:
            if cte == "base64":
                return _a2b_base64(raw)
            if cte == "quoted-printable":
                return binascii.a2b_qp(raw)
        except (binascii.Error, ValueError):
            pass
        return raw

    def text(self) -> str:
        """The body as text, up to `max_text_bytes` of it, with LF line ends.

        Mail on the wire (SMTP, LMTP, RFC 5322 section 2.1) ends lines with CRLF; the text
        parsers read lines split at LF, so a CRLF mail's text is normalized once here."""
        if self._text is None:
            cap = limits.active().max_text_bytes
            text = decode_bytes(self.decoded(cap)[:cap], self.params.get("charset"))
            if "\r" in text:
                text = text.replace("\r\n", "\n")
            self._text = text
        return self._text

    def walk(self) -> list[Part]:
        """This part and all below it, depth first (computed once: the tree never changes)."""
        if self._flat is None:
            flat = [self]
            for child in self.children:
                flat.extend(child.walk())
            self._flat = flat
        return self._flat


def _a2b_base64(data: bytes) -> bytes:
    # Non-strict a2b_base64 skips line breaks and other non-alphabet bytes itself; a body cut
    # short (truncated, or read only in part) is padded, or its dangling character dropped.
    data = data.rstrip()
    for attempt in (data, data + b"==", data[:-1] + b"=="):
        try:
            return binascii.a2b_base64(attempt)
        except binascii.Error:
            continue
    return b""


def parse(raw: bytes, depth: int = 0, headers_only: bool = False) -> Part:
    return _parse_span(raw, 0, len(raw), depth, None, headers_only)


def _parse_span(
    src: bytes,
    start: int,
    end: int,
    depth: int,
    budget: list[int] | None,
    headers_only: bool = False,
) -> Part:
    if budget is not None:
        budget[0] -= 1
    if headers_only:
        while start < end and src[start] in b"\r\n":
            start += 1
    elif depth and src.startswith((b"\n", b"\r\n"), start, end):  # a part without headers
        while start < end and src[start] in b"\r\n":
            start += 1
        return Part([], src, depth, span=(start, end), budget=budget)
    head_end, body_start = _split_head(src, start, end)
    head = src[start:head_end]
    text = head.decode("utf-8", "replace") if b"\x1b" not in head else head.decode("latin-1")
    if headers_only:
        return Part(None, b"", MAX_DEPTH, head=text)
    return Part(parse_headers(text), src, depth, span=(body_start, end), budget=budget)


def _find_field(head: str, low: str, key: str) -> str | None:
    """The first `key:` field of an unparsed header block (`low` = "\n" + head.lower())."""
    at = low.find("\n" + key + ":")
    if at < 0:
        return None
    start = at + len(key) + 1  # offsets in `low` are one ahead of `head`
    end = head.find("\n", start)
    while 0 <= end < len(head) - 1 and head[end + 1] in " \t":  # folded continuation lines
        end = head.find("\n", end + 1)
    value = head[start : end if end >= 0 else len(head)]
    return " ".join(value.split())


def _split_head(src: bytes, start: int, end: int) -> tuple[int, int]:
    """(end of the header block, start of the body): split at the first empty line (LF or
    CRLF mail). A header block is read up to `max_header_bytes`; a longer one is cut there."""
    first = src.find(b"\n", start, end)
    if first > start and src[first - 1] == 13:  # CRLF line ends (mail as SMTP carries it)
        # Look for the CRLF blank line first: a CRLF mail holds no LF one, and searching
        # for that first scanned the rest of the mail for every part. An LF blank line
        # before the CRLF one, if any, ends before it, so it is still found.
        crlf = src.find(b"\r\n\r\n", start, end)
        lf = src.find(b"\n\n", start, crlf + 2 if crlf >= 0 else end)
    else:
        lf = src.find(b"\n\n", start, end)
        crlf = src.find(b"\r\n\r\n", start, lf + 4 if lf >= 0 else end)
    if crlf >= 0 and (lf < 0 or crlf < lf):
        head_end, body_start = crlf, crlf + 4
    elif lf >= 0:
        head_end, body_start = lf, lf + 2
    else:
        head_end, body_start = end, end
    cap = limits.active().max_header_bytes
    return min(head_end, start + cap), body_start


def parse_headers(text: str) -> list[tuple[str, str]]:
    """(name, value) pairs of a header block, at most `max_headers` of them; lines that are
    not fields are skipped."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    fields = _FIELD.findall(_UNFOLD.sub(" ", text))
    cap = limits.active().max_headers
    return fields[:cap] if len(fields) > cap else fields


def _split(
    src: bytes, start: int, end: int, boundary: str | None, budget: list[int]
) -> list[tuple[int, int]]:
    """The (start, end) of each body part of a multipart body, at most `budget[0]` of them."""
    if not boundary:
        return [(start, end)]
    delim = b"--" + boundary[:200].encode("latin-1", "replace")
    pos = src.find(delim, start, end)
    if pos < 0:
        return [(start, end)]
    spans = []
    while pos >= 0 and len(spans) < budget[0]:
        after = pos + len(delim)
        if src.startswith(b"--", after, end):  # closing delimiter
            break
        following = src.find(delim, after, end)
        stop = following if following >= 0 else end
        newline = src.find(b"\n", after, stop)
        spans.append((newline + 1, stop) if newline >= 0 else (stop, stop))
        pos = following
    return spans


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Text of a body in its declared charset if that is allowed (limits.CHARSETS); a charset
    that is not, as UTF-8 with replacement characters."""
    codec = limits.codec(charset)
    if codec is None:
        return data.decode("utf-8", "replace")
    for candidate in (codec, "utf-8"):
        try:
            return data.decode(candidate)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")
