"""How a group of one-event messages fails safe (grouping.apply_group), without a worker:
celery-batches acknowledges a group whose function raised, so it must never raise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
import pytest

from bounce_worker import grouping
from bounce_worker.service import Result


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr(grouping.time, "sleep", waits.append)
    return waits


def test_a_transient_error_is_retried_in_place_until_it_passes(no_sleep: list[float]) -> None:
    calls: list[list[Any]] = []

    def apply(payloads: Sequence[Any], sources: Sequence[str]) -> list[Result]:
        calls.append(list(payloads))
        if len(calls) < 4:
            raise psycopg.errors.DeadlockDetected("deadlock detected")
        return [Result.APPLIED, Result.DUPLICATE]

    def dead_letter(*_: Any) -> None:
        raise AssertionError("a transient error must not dead-letter")

    assert grouping.apply_group(apply, dead_letter, ["a", "b"], ["task:1", "task:2"]) == [
        "applied",
        "duplicate",
    ]
    assert calls == [["a", "b"]] * 4  # the whole group each time: nothing acked meanwhile
    assert len(no_sleep) == 3 and all(0 <= w <= 4 for w in no_sleep)  # 1, 2, 4 s, jittered


def test_a_bug_falls_back_to_one_by_one_and_dead_letters_only_the_culprit() -> None:
    dead: list[tuple[Any, str, str]] = []

    def apply(payloads: Sequence[Any], sources: Sequence[str]) -> list[Result]:
        if "poison" in payloads:
            raise KeyError("a bug")
        return [Result.APPLIED] * len(payloads)

    def dead_letter(payload: Any, source: str, reason: str) -> None:
        dead.append((payload, source, reason))

    results = grouping.apply_group(
        apply, dead_letter, ["a", "poison", "c"], ["task:1", "task:2", "task:3"]
    )
    assert results == ["applied", "dead_lettered", "applied"]
    assert dead == [("poison", "task:2", "internal error: KeyError: 'a bug'")]


def test_storing_the_dead_letter_retries_too_when_the_database_is_away(
    no_sleep: list[float],
) -> None:
    attempts: list[str] = []

    def apply(payloads: Sequence[Any], sources: Sequence[str]) -> list[Result]:
        raise ValueError("a bug")

    def dead_letter(payload: Any, source: str, reason: str) -> None:
        attempts.append(source)
        if len(attempts) == 1:
            raise psycopg.OperationalError("server closed the connection")

    assert grouping.apply_group(apply, dead_letter, ["x"], ["task:9"]) == ["dead_lettered"]
    assert attempts == ["task:9", "task:9"] and len(no_sleep) == 1
