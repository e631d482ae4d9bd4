"""The window kombu's Redis transport leaves open: a worker killed after it took a message
off the queue and before it recorded it as unacknowledged. Reproduced exactly here (the
message is moved onto the inflight list as a dying worker would leave it), then a worker
must find it and apply it."""

from __future__ import annotations

import os

import pytest
import redis
from sqlalchemy import Engine, select

from bounce_worker.broker import inflight
from bounce_worker.store.models import ProcessedEventRow
from bounce_worker.store.uow import UnitOfWork
from tests.conftest import Worker, set_env, wait_until
from tests.faults.conftest import cleanup_queue, queue_drained
from tests.messages import publish


def test_message_taken_by_a_worker_that_died_is_put_back(
    worker_env: Engine, monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    # Sweeps every second; the tasks' hard limits capped below it, as the worker demands.
    set_env(monkeypatch, visibility_timeout="5", task_time_limit_cap="4")
    queue = os.environ["BOUNCE_WORKER_QUEUE"]
    event = {
        "event_id": "orphan-1",
        "type": "bounce",
        "recipient": "orphan@example.org",
        "status": "5.1.1",
        "occurred_at": "2026-11-22T10:00:00Z",
    }
    publish(redis_url, queue, (event,), "json")
    r = redis.Redis.from_url(redis_url)
    assert r.lmove(queue, inflight(queue), "RIGHT", "LEFT") is not None  # taken, then killed
    worker = Worker(concurrency=1)
    try:
        worker.start()

        def applied() -> bool:
            with UnitOfWork(worker_env) as uow:
                return uow.session.scalar(select(ProcessedEventRow.event_id)) == "orphan-1"

        wait_until(lambda: applied() and queue_drained(redis_url, queue), timeout=60)
    finally:
        worker.stop()
        cleanup_queue(redis_url, queue)
