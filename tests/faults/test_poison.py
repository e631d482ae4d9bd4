"""Poison messages: malformed task messages published straight to the broker, between
valid events, on Redis and on RabbitMQ. The worker keeps running (same PID, no
"Unrecoverable error"), each malformed message becomes exactly one dead letter holding its
raw body, and every valid event is applied once."""

from __future__ import annotations

import json
import os
import pickle
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import kombu
import pytest
import redis
from sqlalchemy import Engine, func, select

from bounce_worker.store.models import DeadLetterRow, ProcessedEventRow, TransitionRow
from bounce_worker.store.uow import UnitOfWork
from tests.conftest import Worker, set_env
from tests.faults.conftest import cleanup_queue, queue_state, wait_for

# No user in the URL: kombu and Celery log in as RabbitMQ's default local user.
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://127.0.0.1:5672//")


def task_message(
    name: str, args: Any = (), kwargs: Any = None, **headers: Any
) -> tuple[dict[str, Any], bytes]:
    """Headers and body of a protocol-2 Celery task message, as a producer sends it."""
    task_id = str(uuid.uuid4())
    base = {"lang": "py", "task": name, "id": task_id, "root_id": task_id, "retries": 0}
    base |= {"timelimit": [None, None], "eta": None, "expires": None}
    body = json.dumps([list(args), kwargs or {}, {"callbacks": None, "errbacks": None}])
    return base | headers, body.encode()


def hard_bounce(i: int, run: str) -> dict[str, Any]:
    return {
        "event_id": f"poison-{run}-{i}",
        "type": "bounce",
        "recipient": f"valid{i}@poison.example",
        "status": "5.1.1",
        "occurred_at": "2026-11-20T10:00:00Z",
    }


def malformed_messages() -> list[tuple[str, dict[str, Any], bytes, str, bytes]]:
    """(label, headers, body, content type, the payload its dead letter must hold)."""
    out: list[tuple[str, dict[str, Any], bytes, str, bytes]] = []

    def add(
        label: str,
        headers: dict[str, Any],
        body: bytes,
        ctype: str = "application/json",
        stored: bytes | None = None,
    ) -> None:
        out.append((label, headers, body, ctype, body if stored is None else stored))

    h, _ = task_message("bounce_worker.process_batch")
    add("object body", h, b'{"a":1}')
    h, _ = task_message("bounce_worker.process_event")
    add("number body", h, b"5")
    h, b = task_message("bounce_worker.process_event", [hard_bounce(900, "x")], timelimit="abc")
    add("timelimit not a pair", h, b)
    h, b = task_message("bounce_worker.process_event", [hard_bounce(901, "x")], timelimit=[1, 2, 3])
    add("timelimit of three", h, b)
    h, b = task_message("bounce_worker.process_event", [hard_bounce(902, "x")], eta="yesterday")
    add("eta not a date", h, b)
    # The task dead-letters the argument itself (kind raw), with the text it got.
    h, b = task_message("bounce_worker.ingest_raw", ["%%% not base64 %%%"])
    add("raw mail not base64", h, b, stored=b"%%% not base64 %%%")
    h, b = task_message("bounce_worker.process_batch", [[hard_bounce(903, "x")], "extra"])
    add("two arguments for one", h, b)
    h, b = task_message("bounce_worker.ingest_webhook")
    add("no arguments", h, b)
    h, b = task_message("bounce_worker.process_event", [1, 2, 3])
    add("three events in one message", h, b)
    h, _ = task_message("bounce_worker.process_event")
    add("nested 100,000 deep", h, b"[" * 100_000 + b"]" * 100_000)
    h, _ = task_message("bounce_worker.process_event")
    nested = json.dumps([[json.loads("[" * 60 + "]" * 60)], {}, {}]).encode()
    add("nested 60 deep", h, nested)
    h, b = task_message("bounce_worker.no_such_task", [1])
    add("unknown task", h, b)
    h, _ = task_message("bounce_worker.process_event")
    add("pickle", h, pickle.dumps(((1,), {}, {})), ctype="application/x-python-serialize")
    h, _ = task_message("bounce_worker.process_event")
    add("not UTF-8", h, b'[["\xff\xfe"], {}, {}]')
    _, b = task_message("bounce_worker.process_event", [hard_bounce(904, "x")])
    add("no headers at all", {}, b)
    h, b = task_message("bounce_worker.process_event", [hard_bounce(905, "x")], id=12345)
    add("task id not a string", h, b)
    h, b = task_message("bounce_worker.process_event", [hard_bounce(906, "x")])
    add("says gzip, is not", h | {"compression": "application/x-gzip"}, b)
    return out


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(
    request: pytest.FixtureRequest,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    pg_engine: Engine,
    pg_url: str,
    redis_url: str,
    run_id: str,
) -> Iterator[tuple[str, str]]:
    queue = f"bw-poison-{run_id}-{uuid.uuid4().hex[:6]}"
    url = redis_url if request.param == "redis" else RABBITMQ_URL
    if request.param == "rabbitmq":
        try:
            with kombu.Connection(url, connect_timeout=5) as conn:
                conn.connect()
        except Exception as exc:
            pytest.fail(f"RabbitMQ is required for this test and is not reachable: {exc}")
    set_env(monkeypatch, database_url=pg_url, broker_url=url, queue=queue)
    yield url, queue
    if request.param == "redis":
        cleanup_queue(redis_url, queue)
    else:
        with kombu.Connection(url) as conn:
            conn.default_channel.queue_delete(queue)


def count(engine: Engine, model: type) -> int:
    with UnitOfWork(engine) as uow:
        return uow.session.scalar(select(func.count()).select_from(model)) or 0


def test_malformed_messages_become_dead_letters_and_never_stop_the_worker(
    broker: tuple[str, str], pg_engine: Engine
) -> None:
    url, queue = broker
    run = uuid.uuid4().hex[:6]
    worker = Worker(concurrency=1).start()
    try:
        assert worker.proc is not None
        pid = worker.proc.pid
        valid = [hard_bounce(i, run) for i in range(20)]
        bad = malformed_messages()
        expected_payloads: Counter[bytes] = Counter()
        with kombu.Connection(url) as conn:
            producer = conn.Producer(routing_key=queue)
            events = iter(valid)
            for _label, headers, body, ctype, stored in bad:
                event = next(events)
                h, b = task_message("bounce_worker.process_event", [event])
                producer.publish(
                    b,
                    headers=h,
                    content_type="application/json",
                    content_encoding="utf-8",
                    serializer=None,
                )
                producer.publish(
                    body,
                    headers=headers,
                    content_type=ctype,
                    content_encoding="utf-8" if ctype.endswith("json") else "binary",
                    serializer=None,
                )
                expected_payloads[stored] += 1
            rest = list(events)
            h, b = task_message("bounce_worker.process_batch", [rest])
            producer.publish(
                b,
                headers=h,
                content_type="application/json",
                content_encoding="utf-8",
                serializer=None,
            )
        if url.startswith("redis"):
            # Envelopes kombu itself cannot parse, pushed where the transport takes them.
            r = redis.Redis.from_url(url)
            broken: list[bytes] = [b"this is not JSON", json.dumps({"body": "x"}).encode()]
            envelope = {
                "body": "%%%not base64%%%",
                "content-type": "application/json",
                "content-encoding": "utf-8",
                "headers": {},
                "properties": {
                    "body_encoding": "base64",
                    "delivery_tag": "t1",
                    "delivery_info": {"exchange": "", "routing_key": queue},
                },
            }
            broken.append(json.dumps(envelope).encode())
            for raw in broken:
                r.lpush(queue, raw)
                expected_payloads[raw] += 1
        total_bad = sum(expected_payloads.values())

        def describe() -> str:
            state = queue_state(url, queue) if url.startswith("redis") else "?"
            return (
                f"dead letters {count(pg_engine, DeadLetterRow)}/{total_bad}, processed "
                f"{count(pg_engine, ProcessedEventRow)}/{len(valid)}, queue {state}, "
                f"log tail {worker.log.read_text(errors='replace')[-1500:]}"
            )

        wait_for(
            lambda: (
                count(pg_engine, DeadLetterRow) >= total_bad
                and count(pg_engine, ProcessedEventRow) >= len(valid)
            ),
            timeout=90,
            describe=describe,
        )
        if url.startswith("redis"):
            wait_for(lambda: queue_state(url, queue) == (0, 0, 0), 30, describe)
        assert worker.proc.poll() is None, describe()
        assert worker.proc.pid == pid
        log = worker.log.read_text(errors="replace")
        assert "Unrecoverable error" not in log

        with UnitOfWork(pg_engine) as uow:
            letters = uow.session.scalars(select(DeadLetterRow)).all()
            transitions = uow.session.scalars(select(TransitionRow)).all()
        assert Counter(bytes(d.payload) for d in letters) == expected_payloads
        assert all(d.reason for d in letters)
        per_event = Counter(t.event_id for t in transitions)
        assert {e["event_id"]: per_event[e["event_id"]] for e in valid} == {
            e["event_id"]: 1 for e in valid
        }
        # Nothing from inside the malformed messages was applied.
        assert not [t for t in transitions if t.event_id and t.event_id.startswith("poison-x")]
    finally:
        worker.stop()
