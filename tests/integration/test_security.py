"""Security: the worker accepts JSON only. A pickled message, published with kombu straight
onto the queue, is refused before it is decoded: nothing runs, nothing is applied, and the
message is kept as a dead letter of kind "message" (poison.py) instead of being dropped."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from bounce_worker.store.models import DeadLetterRow, ProcessedEventRow
from bounce_worker.store.uow import UnitOfWork
from tests.conftest import Worker, wait_until
from tests.messages import publish


class Exploit:
    """Unpickling this creates a file: proof that code ran on the worker."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def event(event_id: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "bounce",
        "recipient": f"{event_id}@example.org",
        "status": "5.1.1",
        "occurred_at": "2026-11-22T10:00:00Z",
    }


def processed(engine: Engine) -> set[str]:
    with UnitOfWork(engine) as uow:
        return set(uow.session.scalars(select(ProcessedEventRow.event_id)))


def pickle_dead_letters(engine: Engine) -> list[DeadLetterRow]:
    with UnitOfWork(engine) as uow:
        rows = uow.session.scalars(select(DeadLetterRow).where(DeadLetterRow.kind == "message"))
        return [r for r in rows if "is not application/json" in r.reason]


def test_worker_refuses_pickle_and_applies_nothing(
    worker: Worker, worker_env: Engine, redis_url: str, tmp_path: Path
) -> None:
    queue = os.environ["BOUNCE_WORKER_QUEUE"]
    marker = tmp_path / "pwned"
    publish(redis_url, queue, (event("pickled-event"),), "pickle")
    publish(redis_url, queue, (event("pickled-exploit"), Exploit(marker)), "pickle")
    publish(redis_url, queue, (event("json-event"),), "json")  # the worker is alive

    wait_until(lambda: "json-event" in processed(worker_env))
    wait_until(lambda: len(pickle_dead_letters(worker_env)) == 2)
    assert processed(worker_env) == {"json-event"}
    assert not marker.exists(), "the pickled payload ran code on the worker"
