"""The parsers on the labeled corpus: each figure must stay at or above its bar.

Runs the benchmark's own scoring function (bench/corpus_accuracy.py) over ../shared/corpus.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
CORPUS = REPO.parent / "shared" / "corpus"
EMAILS = CORPUS / "emails-dev"
MANIFEST = CORPUS / "manifest-dev.jsonl"

# No skip: CI has ../shared beside the clone, and a missing corpus must fail loudly.


def _bench():
    spec = importlib.util.spec_from_file_location(
        "corpus_accuracy", REPO / "bench" / "corpus_accuracy.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["corpus_accuracy"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def report():
    assert MANIFEST.exists(), f"labeled corpus not found at {CORPUS}"
    return _bench().score(EMAILS, MANIFEST, repeat=1)


@pytest.fixture(scope="module")
def bars():
    return _bench().BARS


# Accuracy only: the speed ratio against flufl.bounce is a benchmark figure, printed by
# bench/corpus_accuracy.py, never a timed test (it would flake on a busy machine).
@pytest.mark.parametrize(
    "figure", ["recipient_found", "hard_agreement", "reason_agreement", "lofo_reason_agreement"]
)
def test_figure_meets_its_bar(report, bars, figure):
    value = getattr(report, figure)
    assert value >= bars[figure], "\n".join(
        [f"{figure} {value:.2f} < {bars[figure]}", *report.lines()]
    )


def test_we_beat_flufl_on_recipients(report):
    assert report.recipient_found > report.flufl_recipient_found


def test_every_reason_in_the_manifest_has_a_category():
    bench = _bench()
    rows = bench.load_manifest(MANIFEST)
    assert {r["reason"] for r in rows} <= set(bench.REASON_CATEGORY)


def test_smoke_limit_option_runs():
    small = _bench().score(EMAILS, MANIFEST, limit=5, repeat=1)
    assert small.mails == 5


def test_leave_one_family_out_withholds_rules_and_never_scores_above_the_whole(report):
    # The check removes something (else it measures nothing), and a family scored without
    # its own rules cannot do better than with them on the corpus as a whole.
    assert report.lofo_removed > 0
    assert report.strict_removed >= report.lofo_removed
    assert report.strict_reason_agreement <= report.lofo_reason_agreement
    assert report.lofo_reason_agreement <= report.reason_agreement
    assert report.lofo_families and sum(n for n, _ in report.lofo_families.values()) == report.rows


def test_without_wordings_restores_the_full_tables():
    from bounce_worker.domain.classify import classify_bounce, without_wordings

    text = "550 5.0.0 <a@example.org>: no such user here"
    before = classify_bounce("5.0.0", 550, text)
    with without_wordings({r"no such (?:user|mailbox|recipient|address|account|person)"}):
        inside = classify_bounce("5.0.0", 550, text)
    assert before.detail == "user_unknown"
    assert inside.detail != "user_unknown"
    assert classify_bounce("5.0.0", 550, text) == before
