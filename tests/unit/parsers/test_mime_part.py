"""The header/body split of a MIME part (mime_part._split_head)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bounce_worker.parsers.mime_part import _split_head


def _split_head_reference(src: bytes, start: int, end: int) -> tuple[int, int]:
    """The split as first written: the first LF blank line, then a CRLF one before it."""
    lf = src.find(b"\n\n", start, end)
    crlf = src.find(b"\r\n\r\n", start, lf + 4 if lf >= 0 else end)
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return crlf, crlf + 4
    if lf >= 0:
        return lf, lf + 2
    return end, end


@given(st.lists(st.sampled_from([b"a", b":", b" ", b"\n", b"\r", b"\r\n"]), max_size=40), st.data())
def test_split_head_is_the_first_blank_line(pieces, data):
    """LF, CRLF and mixed line ends: the CRLF-first search finds the same blank line."""
    src = b"".join(pieces)
    start = data.draw(st.integers(0, len(src)))
    end = data.draw(st.integers(start, len(src)))
    assert _split_head(src, start, end) == _split_head_reference(src, start, end)


def test_crlf_mail_with_a_later_lf_blank_line():
    src = b"To: a@b\r\nX: 1\r\n\r\nbody\n\nmore"
    assert _split_head(src, 0, len(src)) == (13, 17) == _split_head_reference(src, 0, len(src))
    src = b"To: a@b\r\nX: 1\n\nbody\r\n\r\nmore"
    assert _split_head(src, 0, len(src)) == (13, 15) == _split_head_reference(src, 0, len(src))
