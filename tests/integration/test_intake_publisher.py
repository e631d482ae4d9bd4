"""The coalescing publisher of `serve` (bounce_worker/http/publish.py): concurrent requests
share a pipelined round trip, yet each is answered on its own message's fate.

On the real server and Redis: concurrent signed posts are each queued once, under the id
each was answered with; one token posted twice at once is let in once; a message Redis
refuses is a 503 with nothing queued, and its token is given back so the provider's retry
gets in. On RabbitMQ (no batch publishing): each message is published and confirmed on its
own, and a dead broker fails every request of the batch.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from celery import Celery
from sqlalchemy import Engine

from bounce_worker.http.publish import BrokerUnavailable, Outgoing, Publisher
from bounce_worker.http.webhooks.replay import MemoryTokens
from tests.conftest import set_env
from tests.integration.http_server import Server, free_port
from tests.integration.webhook_signing import mailgun_body, mailgun_failed

KEY = "key-" + uuid.uuid4().hex
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://127.0.0.1:5672//")


@pytest.fixture
def served(worker_env: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    set_env(monkeypatch, mailgun_signing_key=KEY)
    server = Server().start()
    yield server
    server.stop()


def _queue() -> tuple[redis.Redis, str]:
    return redis.Redis.from_url(os.environ["BOUNCE_WORKER_BROKER_URL"]), os.environ[
        "BOUNCE_WORKER_QUEUE"
    ]


def _queued_ids() -> list[str]:
    r, queue = _queue()
    return [json.loads(m)["headers"]["id"] for m in r.lrange(queue, 0, -1)]


async def _post_all(url: str, bodies: list[bytes]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(bodies))
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        return list(
            await asyncio.gather(*(client.post("/webhooks/mailgun", content=b) for b in bodies))
        )


def test_concurrent_posts_each_get_their_own_answer(served: Server) -> None:
    bodies = [mailgun_body(KEY, mailgun_failed(f"c{i}@example.org")) for i in range(60)]
    twice = mailgun_body(KEY, mailgun_failed("twice@example.org"))
    answers = asyncio.run(_post_all(served.url, [*bodies, twice, twice]))
    assert [a.status_code for a in answers[:60]] == [202] * 60
    # The same token twice at once: one is let in, the other refused as a replay.
    assert sorted(a.status_code for a in answers[60:]) == [202, 403]
    assert "already used" in next(a for a in answers[60:] if a.status_code == 403).text
    ids = [a.json()["queued"] for a in answers if a.status_code == 202]
    assert len(set(ids)) == 61
    assert sorted(_queued_ids()) == sorted(ids)  # each message once, under the id answered


def test_a_refused_publish_is_503_and_gives_the_token_back(served: Server) -> None:
    r, queue = _queue()
    body = mailgun_body(KEY, mailgun_failed("retry@example.org"))
    r.set(queue, b"not a list")  # Redis refuses the LPUSH (WRONGTYPE): the broker said no
    try:
        answer = httpx.post(f"{served.url}/webhooks/mailgun", content=body)
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"] == "30"
        assert "broker unavailable" in answer.json()["error"]
        assert r.get(queue) == b"not a list"  # nothing queued
    finally:
        r.delete(queue)
    # Mailgun retries the same request: its token was given back, so it gets in now.
    again = httpx.post(f"{served.url}/webhooks/mailgun", content=body)
    assert again.status_code == 202, again.text
    assert _queued_ids() == [again.json()["queued"]]


def _rabbit_app(url: str, queue: str) -> tuple[Celery, Any]:
    app = Celery("publisher-test", broker=url)
    app.conf.task_default_queue = queue
    app.conf.broker_transport_options = {"confirm_publish": True}
    app.conf.broker_connection_timeout = 2

    @app.task(name="bounce_worker.process_event")
    def process_event(payload: object) -> None:  # pragma: no cover - never runs here
        pass

    return app, process_event


async def _send_all(publisher: Publisher, items: list[Outgoing]) -> list[Any]:
    return list(await asyncio.gather(*(publisher.send(i) for i in items), return_exceptions=True))


def test_rabbitmq_publishes_each_message_confirmed() -> None:
    queue = f"bw-test-publisher-{uuid.uuid4().hex[:8]}"
    app, task = _rabbit_app(RABBITMQ_URL, queue)
    try:
        with app.producer_or_acquire() as producer:
            assert not producer.supports_batch_publish  # so: one by one, each confirmed
        publisher = Publisher(app, MemoryTokens())
        items = [Outgoing(task, [{"event_id": f"e{i}"}], once=(f"t{i}", 60)) for i in range(20)]
        items.append(Outgoing(task, [{"event_id": "again"}], once=("t0", 60)))
        items[-1].replayed = RuntimeError("replayed")
        outcomes = asyncio.run(_send_all(publisher, items))
        assert all(isinstance(o, str) for o in outcomes[:20]), outcomes
        assert isinstance(outcomes[20], RuntimeError)
        with app.connection_for_write() as conn:
            got = []
            simple = conn.SimpleQueue(queue)
            for _ in range(20):
                message = simple.get(timeout=10)
                got.append(message.headers["id"])
                message.ack()
            simple.close()
        assert sorted(got) == sorted(outcomes[:20])
    finally:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)


def test_rabbitmq_down_fails_every_request_and_keeps_no_token() -> None:
    app, task = _rabbit_app(f"amqp://127.0.0.1:{free_port()}//", "nowhere")
    tokens = MemoryTokens()
    publisher = Publisher(app, tokens)
    items = [Outgoing(task, [{"event_id": f"e{i}"}], once=(f"t{i}", 60)) for i in range(5)]
    outcomes = asyncio.run(_send_all(publisher, items))
    assert all(isinstance(o, BrokerUnavailable) for o in outcomes), outcomes
    assert tokens.first_use_many([(f"t{i}", 60) for i in range(5)]) == [True] * 5


def _redis_app(url: str, queue: str) -> tuple[Celery, Any]:
    """An app configured as celeryconfig configures Redis (our transport, one list)."""
    app = Celery("publisher-test", broker=url)
    app.conf.broker_transport = "bounce_worker.broker:ReliableRedisTransport"
    app.conf.broker_transport_options = {"priority_steps": [0]}
    app.conf.task_default_queue = queue

    @app.task(name="bounce_worker.ingest_webhook")
    def ingest_webhook(provider: str, payload: object) -> None:  # pragma: no cover
        pass

    return app, ingest_webhook


def test_a_prebuilt_envelope_is_the_message_kombu_pushes(redis_url: str) -> None:
    from bounce_worker.http.envelopes import Envelopes, fast_path_possible
    from bounce_worker.http.publish import publish

    queue = f"bw-test-envelope-{uuid.uuid4().hex[:8]}"
    app, task = _redis_app(redis_url, queue)
    assert fast_path_possible(app)
    r = redis.Redis.from_url(redis_url)
    try:
        payload = {"signature": {"token": "t", "n": 1.5}, "event-data": {"é": ["x", None, True]}}
        publish(task, ["mailgun", payload])
        (pushed,) = r.lrange(queue, 0, -1)
        real = json.loads(pushed)
        task_id, key, built = Envelopes(app).build(
            task.name,
            ["mailgun", payload],
            real["headers"]["argsrepr"],
            task_id=real["headers"]["id"],
            tag=real["properties"]["delivery_tag"],
        )
        assert (task_id, key) == (real["headers"]["id"], queue)
        assert json.loads(built) == real  # every field, the body included
    finally:
        for stale in r.scan_iter(f"*{queue}*"):
            r.delete(stale)


def test_the_fast_path_claims_each_token_with_its_push(redis_url: str) -> None:
    from bounce_worker.http.webhooks.replay import RedisTokens

    queue = f"bw-test-fast-{uuid.uuid4().hex[:8]}"
    app, task = _redis_app(redis_url, queue)
    tokens = RedisTokens(redis_url, f"{queue}:webhook-token")
    publisher = Publisher(app, tokens)
    r = redis.Redis.from_url(redis_url)
    try:

        def items(names: list[str]) -> list[Outgoing]:
            out = [Outgoing(task, ["mailgun", {"n": n}], "x", once=(n, 60)) for n in names]
            for item in out:
                item.replayed = RuntimeError("replayed")
            return out

        first = asyncio.run(_send_all(publisher, items(["a", "b"])))  # kombu: declares
        assert all(isinstance(o, str) for o in first)
        assert publisher._declared and publisher._fast is not None  # then the fast path
        second = asyncio.run(_send_all(publisher, items(["c", "a", "c", "d"])))
        assert [type(o).__name__ for o in second] == ["str", "RuntimeError", "RuntimeError", "str"]
        queued = [json.loads(m)["headers"]["id"] for m in r.lrange(queue, 0, -1)]
        assert sorted(queued) == sorted([*first, second[0], second[3]])

        # Redis refuses the push (WRONGTYPE): 503 and the token is free again.
        r.delete(queue)
        r.set(queue, b"not a list")
        (refused,) = asyncio.run(_send_all(publisher, items(["e"])))
        assert isinstance(refused, BrokerUnavailable) and "WRONGTYPE" in str(refused)
        r.delete(queue)
        (again,) = asyncio.run(_send_all(publisher, items(["e"])))
        assert isinstance(again, str)
        assert [json.loads(m)["headers"]["id"] for m in r.lrange(queue, 0, -1)] == [again]
    finally:
        for stale in r.scan_iter(f"*{queue}*"):
            r.delete(stale)
