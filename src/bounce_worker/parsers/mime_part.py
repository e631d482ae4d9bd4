"""The MIME tree of a raw mail: `Part` and the splitting of headers, bodies and multiparts.

Why not `email.message_from_bytes` or flanker? Both build the full object tree of every part
(and the stdlib's feed parser is line-by-line Python), which costs more than all our format
rules together; bounces are read by the thousand. Here a part is split with `bytes.find`,
bodies are decoded only when asked for, and the returned original message is read for its
headers only, field by field. It never raises on broken structure: a missing boundary just
leaves one part.
"""

from __future__ import annotations

import binascii
import codecs
import re

MAX_DEPTH = 12
_UNFOLD = re.compile(r"\n[ \t]+")  # literal first character: the regex engine skips ahead
# A header field: printable name without spaces or colon (RFC 5322 ftext), colon, value.
# (A greedy value: a lazy one before "[ \t]*$" is several times slower.)
# Values may keep trailing blanks: header() folds whitespace, field readers strip.
_FIELD = re.compile(r"^([!-9;-~]{1,80})[ \t]*:[ \t]*(.*)", re.M)
_CTYPE = re.compile(r"\s*([\w.+-]+/[\w.+-]+)")
_PARAM = re.compile(r'[;\s]\s*([\w.*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]+))')


class Part:
    """One MIME entity: headers, content type, raw body, and sub-parts if multipart."""

    __slots__ = (
        "_all", "_decoded", "_flat", "_head", "_headers", "_index", "_low", "_text",
        "body", "children", "ctype", "params",
    )  # fmt: skip

    def __init__(
        self,
        headers: list[tuple[str, str]] | None,
        body: bytes,
        depth: int = 0,
        head: str | None = None,
    ) -> None:
        # `head`: a header block parsed only when first read (the returned original message,
        # whose headers most mails never need beyond one or two).
        self._head = head
        self._headers = headers
        self._index: dict[str, str] | None = None
        self._all: dict[str, list[str]] | None = None
        self._low: str | None = None
        self._decoded: dict[str, str] = {}  # header() results: Subject is read many times
        self._flat: list[Part] | None = None
        self.body = body
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
            self.params = {
                m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
                for m in _PARAM.finditer(raw_type)
            }
        if self.ctype.startswith("multipart/") and depth < MAX_DEPTH:
            self.children = [parse(p, depth + 1) for p in _split(body, self.params.get("boundary"))]
        elif self.ctype == "message/rfc822" and depth < MAX_DEPTH:
            self.children = [parse(self.decoded(), depth + 1, headers_only=True)]

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
    def decoded(self) -> bytes:
        cte = (self.get("Content-Transfer-Encoding") or "").strip().lower()
        try:
            if cte == "base64":
                # Non-strict a2b_base64 skips line breaks and other non-alphabet bytes itself.
                try:
                    return binascii.a2b_base64(self.body)
                except binascii.Error:  # truncated: pad and try once more
                    return binascii.a2b_base64(self.body.rstrip() + b"==")
            if cte == "quoted-printable":
                return binascii.a2b_qp(self.body)
        except (binascii.Error, ValueError):
            pass
        return self.body

    def text(self) -> str:
        if self._text is None:
            self._text = decode_bytes(self.decoded(), self.params.get("charset"))
        return self._text

    def walk(self) -> list[Part]:
        """This part and all below it, depth first (computed once: the tree never changes)."""
        if self._flat is None:
            flat = [self]
            for child in self.children:
                flat.extend(child.walk())
            self._flat = flat
        return self._flat


def parse(raw: bytes, depth: int = 0, headers_only: bool = False) -> Part:
    if headers_only:
        raw = raw.lstrip(b"\r\n")
    elif depth and raw.startswith((b"\n", b"\r\n")):  # a part without headers
        return Part([], raw.lstrip(b"\r\n"), depth)
    head, body = _split_head(raw)
    text = head.decode("utf-8", "replace") if b"\x1b" not in head else head.decode("latin-1")
    if headers_only:
        return Part(None, b"", MAX_DEPTH, head=text)
    return Part(parse_headers(text), body, depth)


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


def _split_head(raw: bytes) -> tuple[bytes, bytes]:
    """Header block and body, split at the first empty line (LF or CRLF mail)."""
    lf = raw.find(b"\n\n")
    crlf = raw.find(b"\r\n\r\n")
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return raw[:crlf], raw[crlf + 4 :]
    if lf >= 0:
        return raw[:lf], raw[lf + 2 :]
    return raw, b""


def parse_headers(text: str) -> list[tuple[str, str]]:
    """(name, value) pairs of a header block; lines that are not fields are skipped."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    return _FIELD.findall(_UNFOLD.sub(" ", text))


def _split(body: bytes, boundary: str | None) -> list[bytes]:
    if not boundary:
        return [body]
    delim = b"--" + boundary.encode("latin-1", "replace")
    pieces = body.split(delim)
    if len(pieces) < 2:
        return [body]
    parts = []
    for piece in pieces[1:]:
        if piece.startswith(b"--"):  # closing delimiter
            break
        parts.append(piece.split(b"\n", 1)[1] if b"\n" in piece else b"")
    return parts


def decode_bytes(data: bytes, charset: str | None) -> str:
    charset = (charset or "").strip().strip('"').lower() or "utf-8"
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "utf-8"
    for candidate in (charset, "utf-8"):
        try:
            return data.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("latin-1")
