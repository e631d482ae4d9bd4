"""PostgreSQL stops for 20 s in the middle of a stream: the tasks that hit the outage retry
with backoff, and the database ends exactly as a clean run of the same events leaves it.

This stops the machine's PostgreSQL (other test runs fail meanwhile): the window is short
and it is always restarted, in a finally block."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bounce_worker.store.models import ProcessedEventRow
from tests.conftest import Worker, wait_until
from tests.faults.conftest import (
    assert_same_as_reference,
    cleanup_queue,
    count,
    mixed_events,
    queue_drained,
    spawn_cli,
    write_feed,
)

EVENTS = int(os.environ.get("BW_OUTAGE_EVENTS", "1000"))
OUTAGE_SECONDS = 20


def pg_cluster(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action]
        + (["-m", "fast"] if action == "stop" else []),
        check=True,
        capture_output=True,
        timeout=60,
    )


def test_postgresql_outage_of_20_s_loses_nothing(
    worker_env: Engine, redis_url: str, reference_url: str, tmp_path: Path
) -> None:
    queue = os.environ["BOUNCE_WORKER_QUEUE"]
    feed = write_feed(tmp_path / "feed.jsonl", mixed_events(EVENTS, prefix="o"))
    worker = Worker(concurrency=4)
    try:
        publisher = spawn_cli(["publish", "--batch-size", "1", str(feed)])
        worker.start()
        wait_until(lambda: count(worker_env, ProcessedEventRow) >= EVENTS // 4, timeout=120)
        try:
            pg_cluster("stop")
            stopped_at = time.monotonic()
            time.sleep(OUTAGE_SECONDS)
        finally:
            pg_cluster("start")
        outage = time.monotonic() - stopped_at
        out, err = publisher.communicate(timeout=300)
        assert publisher.returncode == 0, err
        assert f"published {EVENTS} events" in out
        # The reference runs once PostgreSQL is back, beside the recovering worker.
        reference = spawn_cli(["process", str(feed)], BOUNCE_WORKER_DATABASE_URL=reference_url)
        wait_until(
            lambda: (
                count(worker_env, ProcessedEventRow) == EVENTS and queue_drained(redis_url, queue)
            ),
            timeout=180,
        )
        out, err = reference.communicate(timeout=300)
        assert reference.returncode == 0, err
        assert out.strip() == f"applied {EVENTS}, duplicates 0, dead-lettered 0"
    finally:
        worker.stop()
        cleanup_queue(redis_url, queue)

    log = worker.log.read_text(errors="replace")
    retries = log.count("Retry in")
    assert retries > 0, "no task met the outage: the test proved nothing"
    got = assert_same_as_reference(worker_env, reference_url)
    print(
        f"\nPostgreSQL outage {outage:.0f} s: published {EVENTS}, task retries {retries}, "
        f"processed {sum(got['processed'].values())}, lost 0, applied twice 0"
    )


@pytest.fixture(autouse=True)
def _postgresql_is_back() -> None:
    """Whatever happened above, leave PostgreSQL running for the next test."""
    yield
    if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode != 0:
        pg_cluster("start")
