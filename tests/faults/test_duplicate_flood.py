"""The same 1,000 events published five times: after the first copy, nothing changes, not
even a timestamp. Every later copy is answered "duplicate" by the event-id claim."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from bounce_worker.store.models import ProcessedEventRow
from tests.conftest import TABLES, Worker, wait_until
from tests.faults.conftest import (
    cleanup_queue,
    count,
    mixed_events,
    queue_drained,
    spawn_cli,
    write_feed,
)

EVENTS = 1000
COPIES = 5


def raw_dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every column of every row, ids and timestamps included."""
    with engine.connect() as conn:
        return {
            table: [tuple(row) for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]
            for table in TABLES
        }


def duplicates_answered(worker: Worker) -> int:
    return worker.log.read_text(errors="replace").count("'duplicate'")


def test_the_same_events_five_times_change_nothing_after_the_first(
    worker_env: Engine, redis_url: str, tmp_path: Path
) -> None:
    queue = os.environ["BOUNCE_WORKER_QUEUE"]
    feed = write_feed(tmp_path / "feed.jsonl", mixed_events(EVENTS, prefix="dup"))
    worker = Worker(concurrency=4)
    try:
        worker.start()
        assert spawn_cli(["publish", "--batch-size", "1", str(feed)]).wait(timeout=300) == 0
        wait_until(
            lambda: (
                count(worker_env, ProcessedEventRow) == EVENTS and queue_drained(redis_url, queue)
            ),
            timeout=180,
        )
        before = raw_dump(worker_env)
        assert (
            spawn_cli(["publish", "--batch-size", "1", *[str(feed)] * (COPIES - 1)]).wait(
                timeout=300
            )
            == 0
        )
        wait_until(
            lambda: (
                duplicates_answered(worker) == EVENTS * (COPIES - 1)
                and queue_drained(redis_url, queue)
            ),
            timeout=180,
        )
    finally:
        worker.stop()
        cleanup_queue(redis_url, queue)
    after = raw_dump(worker_env)
    assert sum(map(len, before.values())) > EVENTS  # the first copy did change things
    for table in TABLES:
        assert after[table] == before[table], f"{table} changed after the first copy"
    print(
        f"\nduplicate flood: {EVENTS} events x {COPIES} copies = {EVENTS * COPIES} published, "
        f"applied {EVENTS}, duplicates {duplicates_answered(worker)}, applied twice 0"
    )
