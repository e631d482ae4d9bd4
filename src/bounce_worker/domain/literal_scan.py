"""Which of a fixed set of literals occur in a text, found in one regex pass.

The classifier skips a wording rule whose required literal is absent from the diagnostic
(classify.py). Testing each literal with `in` cost a scan of the text per literal, hundreds
per call; here the literals are compiled once into one pattern, a trie (alternatives grouped
by their common prefixes, so the engine reads each character of the text once per branch
point instead of once per literal), inside a look-ahead, so `finditer` stops at every
position of the text where some literal starts and captures the longest one starting there.
Every other literal starting at that position is a prefix of it (both are prefixes of the
text from there), so the literals present are exactly the captured ones and their prefixes
among the literals: the same answer as `literal in text` for each, in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable


def _trie_pattern(literals: Iterable[str]) -> str:
    """A regex matching exactly the literals (longest first at a shared prefix)."""
    trie: dict[str, dict] = {}
    for literal in literals:
        node = trie
        for char in literal:
            node = node.setdefault(char, {})
        node[""] = {}  # a literal ends here

    def emit(node: dict[str, dict]) -> str:
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        # a literal that ends here and continues as a longer one: the longer one first
        return f"(?:{body})?" if "" in node else body

    return emit(trie)


class LiteralScan:
    """`present(text)`: the set of `literals` that occur in `text` (as `in` would say)."""

    __slots__ = ("_prefixes", "_regex")

    def __init__(self, literals: Iterable[str]) -> None:
        unique = sorted({literal for literal in literals if literal})
        self._regex = re.compile(f"(?=({_trie_pattern(unique)}))") if unique else None
        known = set(unique)
        # each literal -> itself and every literal that is a prefix of it
        self._prefixes = {
            literal: tuple(literal[:i] for i in range(1, len(literal) + 1) if literal[:i] in known)
            for literal in unique
        }

    def present(self, text: str) -> set[str]:
        found: set[str] = set()
        if self._regex is not None:
            prefixes = self._prefixes
            for match in self._regex.finditer(text):
                found.update(prefixes[match.group(1)])
        return found
