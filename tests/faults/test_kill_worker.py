"""kill -9 the worker (the whole process group) three times while it consumes a stream of
events (BW_FAULT_EVENTS, default 20,000 as in CI; about 3 minutes on this machine):
the database must end exactly as a clean sequential run of the same events leaves it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bounce_worker.store.models import ProcessedEventRow
from tests.conftest import Worker, set_env, wait_until
from tests.faults.conftest import (
    assert_same_as_reference,
    cleanup_queue,
    count,
    mixed_events,
    queue_drained,
    queue_state,
    spawn_cli,
    wait_for,
    write_feed,
)

EVENTS = int(os.environ.get("BW_FAULT_EVENTS", "20000"))
KILL_AT = (EVENTS * 15 // 100, EVENTS * 40 // 100, EVENTS * 65 // 100)  # processed counts
SLACK = 120 + EVENTS // 20  # seconds a phase may take, on a loaded two-core machine


def test_kill_9_three_times_loses_nothing_and_applies_nothing_twice(
    worker_env: Engine,
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    reference_url: str,
    tmp_path: Path,
) -> None:
    # Messages a killed worker had taken come back after the visibility timeout: short here.
    # The tasks' hard limits capped below it, as the worker demands at start-up.
    set_env(monkeypatch, visibility_timeout="3", task_time_limit_cap="2")
    queue = os.environ["BOUNCE_WORKER_QUEUE"]
    feed = write_feed(tmp_path / "feed.jsonl", mixed_events(EVENTS))

    # The clean reference: the same feed applied sequentially, no broker, another database.
    reference = spawn_cli(["process", str(feed)], BOUNCE_WORKER_DATABASE_URL=reference_url)
    publisher = spawn_cli(
        ["publish", "--batch-size", "1", str(feed)]
    )  # the worker consumes while it publishes
    workers: list[Worker] = []
    try:
        kills = 0
        for threshold in KILL_AT:
            workers.append(Worker(concurrency=4).start())
            wait_until(lambda t=threshold: count(worker_env, ProcessedEventRow) >= t, timeout=SLACK)
            workers[-1].kill()  # SIGKILL to the process group: no ack, no cleanup
            kills += 1
        processed_at_last_kill = count(worker_env, ProcessedEventRow)
        assert processed_at_last_kill < EVENTS, "the worker finished before the last kill"

        workers.append(Worker(concurrency=4).start())
        out, err = publisher.communicate(timeout=SLACK)
        assert publisher.returncode == 0, err
        assert f"published {EVENTS} events" in out
        wait_for(
            lambda: (
                count(worker_env, ProcessedEventRow) == EVENTS and queue_drained(redis_url, queue)
            ),
            SLACK,
            lambda: (
                f"processed {count(worker_env, ProcessedEventRow)} of {EVENTS}, "
                f"(waiting, unacked) {queue_state(redis_url, queue)}"
            ),
        )
        out, err = reference.communicate(timeout=SLACK)
        assert reference.returncode == 0, err
        assert out.strip() == f"applied {EVENTS}, duplicates 0, dead-lettered 0"
    finally:
        for w in workers:
            w.stop()
        reference.kill()
        publisher.kill()
        cleanup_queue(redis_url, queue)

    # Redelivered messages whose transaction had committed are answered "duplicate".
    redelivered = sum(w.log.read_text(errors="replace").count("'duplicate'") for w in workers)
    got = assert_same_as_reference(worker_env, reference_url)
    print(
        f"\nkill -9: published {EVENTS}, kills {kills}, processed {sum(got['processed'].values())},"
        f" lost 0, applied twice 0, redelivered-and-skipped {redelivered}, "
        f"transitions {sum(got['transitions'].values())}"
    )
