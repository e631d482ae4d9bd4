"""RabbitMQ as a production broker (docs/hardening.md "Brokers"): the queue is a quorum
queue, `publish` waits for publisher confirms, and a worker killed with -9 mid-stream loses
nothing: its unacknowledged messages are redelivered at once (real acknowledgements), and
the event-id claim absorbs the copies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import kombu
import pytest
from sqlalchemy import Engine, func, select

from bounce_worker.store.models import ProcessedEventRow, TransitionRow
from bounce_worker.store.uow import UnitOfWork
from tests.conftest import Worker, run_cli, set_env, wait_until

RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://127.0.0.1:5672//")
EVENTS = 600


@pytest.fixture
def rabbit_env(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, pg_engine: Engine, pg_url: str
) -> Iterator[str]:
    try:
        with kombu.Connection(RABBITMQ_URL, connect_timeout=5) as conn:
            conn.connect()
    except Exception as exc:
        pytest.fail(f"RabbitMQ is required for this test and is not reachable: {exc}")
    queue = f"bw-rabbit-{uuid.uuid4().hex[:8]}"
    set_env(monkeypatch, database_url=pg_url, broker_url=RABBITMQ_URL, queue=queue)
    yield queue
    with kombu.Connection(RABBITMQ_URL) as conn:
        conn.default_channel.queue_delete(queue)


def queue_type(queue: str) -> str | None:
    out = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "name", "type"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    for line in out.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] == queue:
            return parts[1]
    return None


def count(engine: Engine) -> int:
    with UnitOfWork(engine) as uow:
        return uow.session.scalar(select(func.count()).select_from(ProcessedEventRow)) or 0


def test_worker_killed_on_rabbitmq_loses_nothing_and_applies_nothing_twice(
    rabbit_env: str, pg_engine: Engine, tmp_path: Path
) -> None:
    feed = tmp_path / "feed.jsonl"
    events = [
        {
            "event_id": f"rabbit-{i}",
            "type": "bounce",
            "recipient": f"r{i}@rabbit.example",
            "status": "5.1.1",
            "occurred_at": "2026-11-20T10:00:00Z",
        }
        for i in range(EVENTS)
    ]
    feed.write_text("".join(json.dumps(e) + "\n" for e in events))
    published = run_cli("publish", str(feed), "--batch-size", "1")
    assert published.returncode == 0, published.stderr
    assert queue_type(rabbit_env) == "quorum"

    worker = Worker(concurrency=2).start()
    try:
        wait_until(lambda: count(pg_engine) >= EVENTS // 5, timeout=120)
        worker.kill(signal.SIGKILL)  # mid-stream: groups held, unacknowledged
        worker = Worker(concurrency=2).start()
        wait_until(lambda: count(pg_engine) >= EVENTS, timeout=180)
    finally:
        worker.stop()
    with UnitOfWork(pg_engine) as uow:
        per_event = Counter(uow.session.scalars(select(TransitionRow.event_id)))
    assert {e["event_id"]: per_event[e["event_id"]] for e in events} == {
        e["event_id"]: 1 for e in events
    }
    assert count(pg_engine) == EVENTS
