"""A real worker consumes batched messages from Redis into PostgreSQL, and the benchmark
runs end to end on the real services with a tiny N."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, select

from bounce_worker.store.models import DeadLetterRow, EntryRow, ProcessedEventRow, TransitionRow
from bounce_worker.store.uow import UnitOfWork
from tests.conftest import REPO, Worker, run_cli, set_env, wait_until
from tests.integration.test_worker_redis_pg import count


def test_worker_applies_batched_messages_from_redis(
    worker: Worker, worker_env: Engine, tmp_path: Path
) -> None:
    events = [
        {
            "event_id": f"b-{n}",
            "type": "bounce",
            "recipient": f"user{n % 7}@example.org",
            "organization": "acme",
            "status": "4.4.1",
            "diagnostic": "451 4.4.1 timeout",
            "occurred_at": f"2026-11-22T10:{n:02d}:00Z",
        }
        for n in range(35)
    ]
    lines = [json.dumps(e) for e in events] + ["{broken", json.dumps(events[3])]
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(lines) + "\n")

    published = run_cli("publish", "--batch-size", "10", str(feed))
    assert published.returncode == 0, published.stderr
    assert "published 37 events in 4 messages" in published.stdout

    wait_until(
        lambda: count(worker_env, ProcessedEventRow) == 35 and count(worker_env, DeadLetterRow) == 1
    )
    with UnitOfWork(worker_env) as uow:
        entries = {r.address: (r.state, r.reason) for r in uow.session.scalars(select(EntryRow))}
        transitions = list(uow.session.scalars(select(TransitionRow)))
        dead = uow.session.scalars(select(DeadLetterRow)).one()
    # Five soft bounces in a row blacklist an address; each of the 7 got exactly 5.
    assert entries == {
        f"user{n}@example.org": ("blacklisted", "soft_bounce_limit") for n in range(7)
    }
    assert len(transitions) == 35  # the repeated b-3 was a duplicate: no second row
    assert dead.payload == b"{broken" and dead.source.startswith("task:")


def test_a_cancelled_batch_statement_is_retried_not_dead_lettered(
    worker: Worker, worker_env: Engine, pg_url: str, tmp_path: Path
) -> None:
    """A deadlock victim, a statement cancelled by an operator, a server shutting down: the
    bulk path's statements run on the raw psycopg connection, so its errors arrive bare, not
    wrapped by SQLAlchemy. They are transient: the batch is retried and applied, and no
    dead letter is written (a dead-lettered batch would leave its events unapplied)."""
    events = [
        {
            "event_id": f"c-{n}",
            "type": "complaint",
            "recipient": f"u{n}@example.org",
            "occurred_at": "2026-11-22T10:00:00Z",
        }
        for n in range(10)
    ]
    feed = tmp_path / "feed.jsonl"
    feed.write_text("".join(json.dumps(e) + "\n" for e in events))
    database = pg_url.rsplit("/", 1)[1]
    waiting = """SELECT pid FROM pg_stat_activity
                 WHERE datname = %s AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"""
    # A second, autocommit connection watches: pg_stat_activity is read once per transaction.
    with psycopg.connect(pg_url) as holder, psycopg.connect(pg_url, autocommit=True) as admin:
        holder.execute("LOCK TABLE entries IN EXCLUSIVE MODE")  # the batch's upsert waits
        assert run_cli("publish", "--batch-size", "10", str(feed)).returncode == 0
        wait_until(lambda: admin.execute(waiting, (database,)).fetchall() != [])
        for (pid,) in admin.execute(waiting, (database,)).fetchall():
            admin.execute("SELECT pg_cancel_backend(%s)", (pid,))
        wait_until(lambda: "retry: Retry in" in worker.log.read_text(errors="replace"))
        holder.rollback()  # releases the table lock
    wait_until(lambda: count(worker_env, ProcessedEventRow) == 10)
    assert count(worker_env, DeadLetterRow) == 0
    assert count(worker_env, EntryRow) == 10


def test_bad_batch_size_is_a_one_line_error(env: dict[str, str]) -> None:
    done = run_cli("publish", "--batch-size", "0", "-")
    assert done.returncode != 0
    assert "--batch-size: must be at least 1" in done.stderr
    assert "Traceback" not in done.stderr


def test_throughput_bench_smoke(worker_env: Engine, pg_url: str, redis_url: str) -> None:
    """The bench with a tiny N: every phase runs, every event is verified, exit 0."""
    done = subprocess.run(
        [sys.executable, "bench/throughput.py", "--events", "300"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "(b) verified: " in done.stdout and "(c) verified: " in done.stdout
    assert "b/a = " in done.stdout and "c/a = " in done.stdout


def test_a_bug_on_one_event_of_a_batch_dead_letters_that_event_alone(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, pg_url: str, pg_engine: Engine
) -> None:
    """A bug (not bad input, not a transient error) hit by one event of a process_batch
    message: the others are applied, the culprit alone becomes an `event` dead letter that
    a replay applies once the bug is gone."""
    from bounce_worker import apply, dead_letters
    from bounce_worker.config import settings
    from bounce_worker.tasks import process_batch

    set_env(monkeypatch, database_url=pg_url)
    events = [
        {
            "event_id": f"bug-{n}",
            "type": "complaint",
            "recipient": f"bug{n}@example.org",
            "occurred_at": "2026-11-22T10:00:00Z",
        }
        for n in range(3)
    ]
    plan = apply._plan

    def buggy(event: Any) -> Any:
        if event.event_id == "bug-1":
            raise KeyError("a bug")
        return plan(event)

    monkeypatch.setattr(apply, "_plan", buggy)
    counts = process_batch.apply((events,), task_id="t-1").get()
    assert counts == {"applied": 2, "dead_lettered": 1}
    with UnitOfWork(pg_engine) as uow:
        dead = uow.session.scalars(select(DeadLetterRow)).one()
    assert (dead.kind, dead.source) == ("event", "task:t-1#1")
    assert dead.reason == "internal error: KeyError: 'a bug'"
    assert json.loads(dead.payload) == events[1]

    monkeypatch.setattr(apply, "_plan", plan)  # the fix is deployed
    replayed = dead_letters.replay(pg_engine, settings(), datetime.now(UTC), [dead.id])
    assert replayed["applied"] == 1
    assert count(pg_engine, ProcessedEventRow) == 3 and count(pg_engine, EntryRow) == 3
