"""Time limits (limits.py): every task's come from one table, a replay is cut at its kind's
limit, and a worker whose visibility timeout does not exceed the longest hard limit refuses
to start with one line."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from bounce_worker import dead_letters, limits, service
from bounce_worker.config import Settings, settings
from bounce_worker.store.db import get_engine
from bounce_worker.store.models import DeadLetterRow
from bounce_worker.store.uow import UnitOfWork
from tests.conftest import run_refused_worker, set_env

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_every_task_runs_under_the_limits_of_the_table() -> None:
    from bounce_worker import tasks  # noqa: F401  (registers the tasks)
    from bounce_worker.celery_app import app

    ours = {name: task for name, task in app.tasks.items() if name.startswith("bounce_worker.")}
    assert set(ours) == set(limits.TASK_TIME_LIMITS)
    for name, task in ours.items():
        declared = limits.TASK_TIME_LIMITS[name]
        assert (task.soft_time_limit, task.time_limit) == (declared.soft, declared.hard), name
        assert declared.soft < declared.hard
    assert limits.visibility_timeout_problem(3600) is None
    problem = limits.visibility_timeout_problem(1800)
    assert problem and "1800 s" in problem and "\n" not in problem


def test_a_cap_lowers_every_hard_limit_under_a_short_visibility_timeout() -> None:
    # BOUNCE_WORKER_TASK_TIME_LIMIT_CAP: the broker-window and kill tests run with a few
    # seconds of visibility timeout; the worker starts once every hard limit is below it.
    assert limits.visibility_timeout_problem(5) is not None
    assert limits.visibility_timeout_problem(5, cap=4) is None
    for name in limits.TASK_TIME_LIMITS:
        capped = limits.task_time_limit(name, cap=4)
        assert capped.hard <= 4 and 1 <= capped.soft < capped.hard, name
    assert limits.task_time_limit("bounce_worker.ingest_webhook", cap=600) == (
        limits.TASK_TIME_LIMITS["bounce_worker.ingest_webhook"]
    )
    assert limits.replay_time_limit("event", cap=60) < 60


def test_a_replay_over_its_time_limit_stays_a_dead_letter(
    env: dict[str, str], sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine: Engine = get_engine(sqlite_url)
    slow_id = service.dead_letter(engine, "event", "slow", b'{"slow": 1}', "bad", NOW)
    quick_id = service.dead_letter(engine, "raw", "quick", b"not a mail", "bad", NOW)
    started: list[float] = []

    def slow(
        engine: Engine, payload: bytes, source: str | None, s: Settings, now: datetime
    ) -> Counter[service.Result]:
        started.append(time.monotonic())
        time.sleep(30)
        return Counter({service.Result.APPLIED: 1})

    monkeypatch.setitem(dead_letters.REPLAYERS, "event", slow)
    monkeypatch.setitem(
        limits.TASK_TIME_LIMITS, "bounce_worker.process_event", limits.TimeLimit(1, 2)
    )
    counts = dead_letters.replay(engine, settings(), NOW)
    assert time.monotonic() - started[0] < 10
    assert counts == Counter({"dead_lettered": 2})
    with UnitOfWork(engine) as uow:
        rows = {r.id: r for r in uow.session.scalars(select(DeadLetterRow))}
    assert len(rows) == 2  # a failed replay updates its row, adds none
    assert "time limit of 1 s" in rows[slow_id].reason and rows[slow_id].replayed_at is None
    assert "time limit" not in rows[quick_id].reason


def test_worker_refuses_a_visibility_timeout_under_the_longest_hard_limit(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    set_env(monkeypatch, visibility_timeout="1000")
    proc = run_refused_worker()
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("bounce-worker:")]
    assert lines == [
        "bounce-worker: BOUNCE_WORKER_VISIBILITY_TIMEOUT is 1000 s: it must exceed the longest "
        "hard time limit, 1800 s (bounce_worker.process_event), or a running task's message "
        "is delivered twice (or cap the limits with BOUNCE_WORKER_TASK_TIME_LIMIT_CAP)"
    ]
    assert "Traceback" not in proc.stderr
