"""What `process` and `publish` read: JSON Lines events, single .eml mails, mbox files.

The kind is taken from the extension, or sniffed from the first bytes for stdin and
unknown extensions: `{` starts JSON Lines, `From ` starts an mbox, anything else is a mail.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from bounce_worker.cli.common import CliError
from bounce_worker.parsers import split_mbox

MAIL_SUFFIXES = {".eml", ".msg", ".mail"}
MBOX_SUFFIXES = {".mbox", ".mbx"}
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}


@dataclass(frozen=True, slots=True)
class Item:
    kind: Literal["event", "raw"]  # a normalized event line, or a raw mail
    source: str  # FILE:LINE or FILE#N, stored with any dead letter
    data: str | bytes


def read_inputs(files: list[str]) -> Iterator[Item]:
    files = expand(files)
    for name in files:
        # Not is_file(): a pipe is input too (`process <(zcat feed.jsonl.gz)`: /dev/fd/63).
        if name != "-" and not Path(name).exists():
            raise CliError(f"no such file: {name} (give a file, a directory of them, or -)")
    for name in files:
        label = "stdin" if name == "-" else name
        with _open(name) as stream:
            kind = _kind(name, stream)
            if kind == "jsonl":
                yield from _lines(label, stream)
            elif kind == "mbox":
                for number, raw in enumerate(split_mbox(stream.read()), 1):
                    yield Item("raw", f"{label}#{number}", raw)
            else:
                yield Item("raw", label, stream.read())


def input_size(files: list[str]) -> int | None:
    """Bytes of input to read (for the progress bar's ETA); None when stdin is among them."""
    names = expand(files)
    if "-" in names:
        return None
    return sum(Path(n).stat().st_size for n in names if Path(n).is_file())


def expand(names: list[str]) -> list[str]:
    """A directory stands for the files in it (and below), in name order; hidden ones skipped."""
    out: list[str] = []
    for name in names:
        path = Path(name)
        if name != "-" and path.is_dir():
            found = sorted(
                str(f)
                for f in path.rglob("*")
                if f.is_file() and not any(p.startswith(".") for p in f.relative_to(path).parts)
            )
            if not found:
                raise CliError(f"no files in directory: {name}")
            out += found
        else:
            out.append(name)
    return out


def _open(name: str) -> BinaryIO:
    if name == "-":
        return sys.stdin.buffer
    return Path(name).open("rb")


def _kind(name: str, stream: BinaryIO) -> str:
    suffix = Path(name).suffix.lower() if name != "-" else ""
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix in MBOX_SUFFIXES:
        return "mbox"
    if suffix in MAIL_SUFFIXES:
        return "mail"
    head = stream.peek(64)[:64] if hasattr(stream, "peek") else b""  # type: ignore[attr-defined]
    head = head.lstrip()
    if head.startswith((b"{", b"[")) or not head:
        return "jsonl"
    return "mbox" if head.startswith(b"From ") else "mail"


def _lines(label: str, stream: BinaryIO) -> Iterator[Item]:
    for number, raw in enumerate(stream, 1):
        line = raw.decode("utf-8", "surrogateescape").strip()
        if line:
            yield Item("event", f"{label}:{number}", line)
