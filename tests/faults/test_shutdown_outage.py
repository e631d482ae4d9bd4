"""SIGTERM while the database is out (issue 14, operations): a worker whose events retry a
lost database in place ends within the warm-shutdown time, and their messages go back on
the queue, unacknowledged, to be applied once by the next worker.

The outage is a worker whose database URL points at a port where nothing listens (the
shared PostgreSQL keeps running); SIGTERM goes to the worker's main process only, as
`docker stop` sends it. Both pools, both event tasks: grouped process_event messages
(`publish --batch-size 1`) and a process_batch message."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from bounce_worker.store.models import ProcessedEventRow, TransitionRow
from bounce_worker.store.uow import UnitOfWork
from tests.conftest import Worker, run_cli, set_env
from tests.faults.conftest import cleanup_queue, count, queue_state, wait_for

DEAD_DATABASE = "postgresql://postgres@127.0.0.1:18302/nothing"  # harden14's port range
# compose gives the worker 60 s (stop_grace_period). The retry loop looks at the shutdown
# flag every 0.2 s: the solo pool stops in about a second, prefork in about three. (Before
# prefork children waited for the pool to drain, shutdown.py, one run in three took 33 s:
# a result caught half-read by Celery's stopping event loop.) Without the flag: never.
WARM_SHUTDOWN = 15.0
EVENTS = 3


def events() -> list[dict[str, str]]:
    return [
        {
            "event_id": f"sd-{i}",
            "type": "bounce",
            "recipient": f"sd{i}@example.org",
            "status": "5.1.1",
            "occurred_at": f"2026-11-20T10:0{i}:00Z",
        }
        for i in range(EVENTS)
    ]


@pytest.mark.parametrize("pool", ["solo", "prefork"])
@pytest.mark.parametrize("task", ["process_event", "process_batch"])
def test_sigterm_during_a_database_outage_ends_the_worker_and_keeps_the_messages(
    worker_env: Engine,
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    pg_url: str,
    tmp_path: Path,
    pool: str,
    task: str,
) -> None:
    queue = os.environ["BOUNCE_WORKER_QUEUE"]
    feed = tmp_path / "feed.jsonl"
    feed.write_text("".join(json.dumps(e) + "\n" for e in events()))
    messages = EVENTS if task == "process_event" else 1
    pool_args = ["--pool", "solo"] if pool == "solo" else ["--pool", "prefork"]
    set_env(monkeypatch, database_url=DEAD_DATABASE)
    stranded = Worker(pool_args, concurrency=1)
    rescuer: Worker | None = None
    try:
        stranded.start()
        assert stranded.proc is not None
        published = run_cli("publish", *(["--batch-size", "1"] if messages > 1 else []), str(feed))
        assert published.returncode == 0, published.stderr
        assert f"in {messages} message" in published.stdout

        def log() -> str:
            return stranded.log.read_text(errors="replace")

        # Retrying in place: every message taken, none acknowledged.
        wait_for(
            lambda: (
                log().count("event group retry: Retry in") >= 2
                and queue_state(redis_url, queue) == (0, messages, 0)
            ),
            60,
            lambda: f"queue {queue_state(redis_url, queue)}, log: {log()[-1500:]}",
        )
        started = time.monotonic()
        os.kill(stranded.proc.pid, signal.SIGTERM)  # the main process only, as docker stop
        try:
            returncode = stranded.proc.wait(timeout=WARM_SHUTDOWN)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit {WARM_SHUTDOWN}s after SIGTERM: {log()[-2000:]}")
        took = time.monotonic() - started
        assert returncode == 0, log()[-2000:]
        assert "event group retry stopped: the worker is shutting down" in log()
        # Given back, not acknowledged and not dead-lettered: waiting on the queue again.
        assert queue_state(redis_url, queue) == (messages, 0, 0), log()[-2000:]
        assert count(worker_env, ProcessedEventRow) == 0

        # The database is back (a worker with a good URL): each event applied once.
        set_env(monkeypatch, database_url=pg_url)
        rescuer = Worker(pool_args, concurrency=1).start()
        wait_for(
            lambda: (
                count(worker_env, ProcessedEventRow) == EVENTS
                and queue_state(redis_url, queue) == (0, 0, 0)
            ),
            60,
            lambda: (
                f"processed {count(worker_env, ProcessedEventRow)}, "
                f"queue {queue_state(redis_url, queue)}"
            ),
        )
        with UnitOfWork(worker_env) as uow:
            transitions = uow.session.scalars(select(TransitionRow.event_id)).all()
        assert sorted(transitions) == [e["event_id"] for e in events()]  # once each
        out = run_cli("status", "sd0@example.org")
        assert out.returncode == 0 and "blocked" in out.stdout, out.stdout + out.stderr
    finally:
        stranded.kill()
        if rescuer is not None:
            rescuer.stop()
        cleanup_queue(redis_url, queue)
    print(f"\nSIGTERM during outage ({pool}, {task}): exited in {took:.1f} s")
