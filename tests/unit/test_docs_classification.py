"""The classification docs name every reason of the vocabulary (README and docs page)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bounce_worker.domain.rules.reasons import REASONS

REPO = Path(__file__).parents[2]


@pytest.mark.parametrize("page", ["README.md", "docs/classification.md"])
def test_every_reason_is_documented_with_its_category(page):
    text = (REPO / page).read_text()
    missing = [r for r in REASONS if f"`{r}`" not in text]
    assert not missing, f"{page} does not document {missing}"


def test_the_docs_page_gives_each_reason_its_category():
    text = (REPO / "docs/classification.md").read_text()
    for reason, (category, _) in REASONS.items():
        assert f"| `{reason}` | {category} |" in text, reason
