"""Celery messages built by hand with kombu: what any producer could put on the queue."""

from __future__ import annotations

import uuid
from typing import Any

from kombu import Connection, Exchange, Queue


def publish(redis_url: str, queue: str, args: tuple[Any, ...], serializer: str) -> None:
    """A Celery protocol-2 message for bounce_worker.process_event, built by hand."""
    task_id = str(uuid.uuid4())
    headers = {
        "lang": "py",
        "task": "bounce_worker.process_event",
        "id": task_id,
        "root_id": task_id,
        "parent_id": None,
        "group": None,
        "retries": 0,
        "eta": None,
        "expires": None,
        "timelimit": [None, None],
        "argsrepr": "",
        "kwargsrepr": "",
        "origin": "test",
    }
    body = (args, {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None})
    target = Queue(queue, Exchange(queue), routing_key=queue)
    with Connection(redis_url) as conn:
        conn.Producer().publish(
            body,
            exchange=target.exchange,
            routing_key=queue,
            serializer=serializer,
            headers=headers,
            declare=[target],
        )
