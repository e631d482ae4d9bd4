"""How a group of one-event messages fails safe (grouping.apply_group), without a worker:
celery-batches acknowledges a group whose function raised, so it must never raise."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
import pytest

from bounce_worker import grouping, shutdown
from bounce_worker.service import Result


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr(grouping, "pause", waits.append)
    return waits


@pytest.fixture
def stopping() -> Iterator[None]:
    shutdown.request()
    yield
    shutdown.reset()


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


def test_a_worker_shutting_down_stops_the_retries_and_applies_nothing(
    monkeypatch: pytest.MonkeyPatch, stopping: None
) -> None:
    monkeypatch.setattr(grouping, "pause", shutdown.pause)  # the real one: the flag is up
    calls: list[list[Any]] = []

    def apply(payloads: Sequence[Any], sources: Sequence[str]) -> list[Result]:
        calls.append(list(payloads))
        raise psycopg.OperationalError("connection refused")

    def dead_letter(*_: Any) -> None:
        raise AssertionError("a group given back must not dead-letter")

    with pytest.raises(shutdown.ShuttingDown):
        grouping.apply_group(apply, dead_letter, ["a", "b"], ["task:1", "task:2"])
    assert calls == [["a", "b"]]  # one attempt, then given back (the caller rejects it)


def test_a_group_that_works_is_applied_even_while_the_worker_stops(stopping: None) -> None:
    def apply(payloads: Sequence[Any], sources: Sequence[str]) -> list[Result]:
        return [Result.APPLIED] * len(payloads)

    assert grouping.apply_group(apply, lambda *_: None, ["a"], ["task:1"]) == ["applied"]


def test_the_pause_ends_early_when_the_flag_goes_up_meanwhile() -> None:
    started = time.monotonic()
    shutdown.pause(0.3)  # no flag: the whole pause
    assert time.monotonic() - started >= 0.3
    threading.Timer(0.1, shutdown.request).start()
    try:
        started = time.monotonic()
        with pytest.raises(shutdown.ShuttingDown):
            shutdown.pause(30)
        assert time.monotonic() - started < 0.1 + 2 * shutdown.POLL_SECONDS + 0.5
    finally:
        shutdown.reset()
