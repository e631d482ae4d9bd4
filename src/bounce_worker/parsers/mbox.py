"""Split an mbox file into raw messages (mboxo/mboxrd: a "From " line starts each one)."""

from __future__ import annotations

import re
from collections.abc import Iterator

_FROM_LINE = re.compile(rb"^From [^\r\n]*\r?\n", re.M)
_QUOTED_FROM = re.compile(rb"^>(>*From )", re.M)


def split_mbox(data: bytes) -> Iterator[bytes]:
    """Each message without its "From " separator; mboxrd ">From " quoting is undone.

    A file that does not start with a "From " line is taken as a single message.
    """
    data = data.lstrip(b"\r\n")
    starts = [
        m
        for m in _FROM_LINE.finditer(data)
        if m.start() == 0 or data[m.start() - 1 : m.start()] == b"\n"
    ]
    if not starts or starts[0].start() != 0:
        if data.strip():
            yield data
        return
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(data)
        chunk = data[match.end() : end]
        if chunk.strip():
            yield _QUOTED_FROM.sub(rb"\1", chunk)
