"""literal_scan.LiteralScan finds exactly the literals `in` finds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bounce_worker.domain.literal_scan import LiteralScan

# A small alphabet, so literals overlap, nest and share prefixes; regex metacharacters too.
_ALPHABET = "ab .*(\n"


@given(
    st.lists(st.text(_ALPHABET, max_size=5), max_size=12),
    st.text(_ALPHABET, max_size=40),
)
def test_present_is_every_literal_in_the_text(literals, text):
    assert LiteralScan(literals).present(text) == {lit for lit in literals if lit and lit in text}


def test_nested_and_overlapping_literals():
    scan = LiteralScan(["over", "over quota", "quota", "ver q", "mailbox full", "full"])
    assert scan.present("552 mailbox over quota") == {"over", "over quota", "quota", "ver q"}
    assert scan.present("mailbox is full") == {"full"}
    assert LiteralScan([]).present("anything") == set()
