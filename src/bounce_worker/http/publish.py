"""Checked publishing: a request is answered 2xx only once the broker accepted its message.

Celery's own publish retries a lost connection for a long while; here a failure must come
back at once as BrokerUnavailable (503), so the sender keeps the feedback and retries.
On Redis an accepted LPUSH is the acceptance; on RabbitMQ the transport's `confirm_publish`
option (celeryconfig) makes the publish wait for the broker's confirm.

`publish` sends one message (the CLI, LMTP). The HTTP service sends through `Publisher`,
which coalesces the messages of concurrent requests: each batch costs one thread hop, one
pipelined round trip for the Mailgun tokens it claims and, on Redis, one pipelined round
trip for its messages (kombu's producer batch). Each request still gets its own answer:
its task id once the pipeline carrying its message succeeded, BrokerUnavailable when it did
not (the tokens it claimed are given back, so the provider's retry is not refused as a
replay), or its own refusal (a reused token). On a transport without batch publishing
(RabbitMQ) the batch's messages are published one by one, each waiting for its confirm,
and each request gets the outcome of its own message.

On our Redis transport, from the second batch of a process on (the first, through kombu,
declares the queue), a batch is one round trip in all, made from the event loop (no thread
hop): each message is a prebuilt envelope (envelopes.py) pushed by LPUSH, or, when it
carries a token, by a script that claims the token and pushes the message atomically (a
message is queued exactly when its token was free; a refused push gives the token back).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from celery import Celery, Task
from kombu.exceptions import KombuError, OperationalError
from kombu.utils.uuid import uuid
from redis.exceptions import RedisError

from bounce_worker.http.envelopes import Envelopes, fast_path_possible

log = logging.getLogger("bounce_worker.publish")

# What a broker (or the Redis holding the tokens) that is down or unreachable raises.
BROKER_ERRORS = (OperationalError, KombuError, RedisError, ConnectionError, OSError)
MAX_BATCH = 500  # messages per pipeline; more waiting requests go in the next one


class BrokerUnavailable(RuntimeError):
    """The broker did not accept the message: nothing was queued, the caller retries."""


def unavailable(exc: BaseException) -> BrokerUnavailable:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    cause = exc.__cause__
    if cause is not None and str(cause):  # kombu's BatchPublishError wraps the real one
        text = f"{text}: {str(cause).splitlines()[0]}"
    return BrokerUnavailable(text)


def _send(
    app: Celery,
    producer: Any,
    task: Task,
    args: Sequence[Any],
    kwargs: dict[str, Any] | None = None,
    argsrepr: str | None = None,
) -> str:
    """Build and send one task message as `apply_async` would, minus the task-sent event (a
    second publish per message, to the events exchange). Flower still sees each task from
    its worker's events (received, started, succeeded). `argsrepr`: what Flower shows as the
    arguments; given, it saves Celery's safe repr of a whole payload (half the CPU of a
    message)."""
    task_id = uuid()
    kwargs = kwargs or {}
    message = app.amqp.create_task_message(
        task_id,
        task.name,
        tuple(args),
        kwargs,
        argsrepr=argsrepr,
        kwargsrepr=None if kwargs or argsrepr is None else "{}",
    )
    app.amqp.send_task_message(
        producer, task.name, message, queue=app.conf.task_default_queue, retry=False
    )
    return task_id


def publish(task: Task, args: Sequence[Any], kwargs: dict[str, Any] | None = None) -> str:
    """Send one task message; returns its id once the broker has it."""
    app = task.app
    try:
        with app.producer_or_acquire() as producer:
            return _send(app, producer, task, args, kwargs)
    except BROKER_ERRORS as exc:
        raise unavailable(exc) from exc


@dataclass
class Outgoing:
    """One request's message. `once`: a token (key, seconds) the message is sent with only
    on its first use; a reused one gets `replayed` back instead."""

    task: Task
    args: Sequence[Any]
    argsrepr: str | None = None  # None: Celery's safe repr of the arguments
    once: tuple[str, int] | None = None
    replayed: Exception | None = None
    future: asyncio.Future[str] | None = field(default=None, repr=False)


def _send_item(app: Celery, producer: Any, item: Outgoing) -> str:
    return _send(app, producer, item.task, item.args, argsrepr=item.argsrepr)


class Publisher:
    """Per process and event loop: messages of concurrent requests, sent in batches."""

    def __init__(self, app: Celery, tokens: Any = None, *, fast: bool = True) -> None:
        self.app = app
        self.tokens = tokens  # a replay.TokenStore, for messages sent `once`
        self._pending: list[Outgoing] = []
        self._draining = False
        # One thread: kombu's producer is not shared across threads, and a batch in flight
        # is what the next one waits behind (while it fills).
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="publish")
        self.loop: asyncio.AbstractEventLoop | None = None
        # The fast path (Redis, our transport): the envelopes and the token store.
        # Used from the second batch on: the first goes through kombu, which declares the
        # queue.
        self._fast: tuple[Envelopes, Any] | None = None
        self._async_redis: Any = None
        self._declared = False
        if fast and fast_path_possible(app) and hasattr(tokens, "key"):
            self._fast = (Envelopes(app), tokens)
        self._drainer: asyncio.Task[None] | None = None

    async def send(self, item: Outgoing) -> str:
        loop = asyncio.get_running_loop()
        item.future = loop.create_future()
        self._pending.append(item)
        if not self._draining:
            self._draining = True
            self._drainer = loop.create_task(self._drain())  # a reference keeps it alive
        return await item.future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
                try:
                    if self._fast is not None and self._declared:
                        outcomes = await self._flush_fast(batch)
                    else:
                        outcomes = await loop.run_in_executor(self._thread, self.flush, batch)
                except BaseException as exc:  # a bug, not the broker: every request fails
                    outcomes = [exc] * len(batch)
                for item, outcome in zip(batch, outcomes, strict=True):
                    assert item.future is not None
                    if item.future.done():  # the request went away (client disconnected)
                        continue
                    if isinstance(outcome, BaseException):
                        item.future.set_exception(outcome)
                    else:
                        item.future.set_result(outcome)
        finally:
            self._draining = False

    def flush(self, batch: Sequence[Outgoing]) -> list[str | BaseException]:
        """Send `batch` through kombu (in the publishing thread): per item, its task id or
        an exception."""
        outcomes = self._flush_kombu(batch)
        if any(isinstance(o, str) for o in outcomes):
            self._declared = True  # kombu declared the queue with its first publish
        return outcomes

    async def _flush_fast(self, batch: Sequence[Outgoing]) -> list[str | BaseException]:
        """On the event loop, no thread: one pipelined round trip for the whole batch, each
        message a prebuilt envelope (envelopes.py) pushed by LPUSH, or by a script that
        first claims its token, atomically, so a message is queued exactly when its token
        was free. While it is on the wire the loop serves the next requests."""
        assert self._fast is not None
        envelopes, tokens = self._fast
        loop = asyncio.get_running_loop()
        if self._async_redis is None or self._async_redis[0] is not loop:
            import redis.asyncio  # its connections belong to one event loop

            client = redis.asyncio.Redis.from_url(
                tokens.url, socket_timeout=5, socket_connect_timeout=5
            )
            self._async_redis = (loop, client)
        built = []
        try:
            async with self._async_redis[1].pipeline(transaction=False) as pipe:
                for item in batch:
                    task_id, queue, payload = envelopes.build(
                        item.task.name, item.args, item.argsrepr
                    )
                    built.append(task_id)
                    if item.once is None:
                        pipe.lpush(queue, payload)
                    else:
                        # EVAL, not EVALSHA: redis-py checks a pipeline's scripts with
                        # SCRIPT EXISTS first, a round trip more; Redis caches it anyway.
                        token, ttl = item.once
                        pipe.eval(_CLAIM_AND_PUSH, 2, tokens.key(token), queue, ttl, payload)
                results = await pipe.execute()
        except BROKER_ERRORS as exc:
            return [unavailable(exc)] * len(batch)
        outcomes: list[str | BaseException] = []
        for item, task_id, result in zip(batch, built, results, strict=True):
            if item.once is not None and result == 0:
                outcomes.append(item.replayed or RuntimeError("token already used"))
            else:
                outcomes.append(task_id)
        return outcomes

    def _flush_kombu(self, batch: Sequence[Outgoing]) -> list[str | BaseException]:
        outcomes: list[str | BaseException | None] = [None] * len(batch)
        claimed: list[str] = []
        once = [(n, item) for n, item in enumerate(batch) if item.once is not None]
        if once:
            try:
                firsts = self.tokens.first_use_many([item.once for _, item in once])
            except BROKER_ERRORS as exc:
                return [unavailable(exc)] * len(batch)
            for (n, item), first in zip(once, firsts, strict=True):
                if first:
                    claimed.append(item.once[0])  # type: ignore[index]
                else:
                    outcomes[n] = item.replayed or RuntimeError("token already used")
        todo = [n for n in range(len(batch)) if outcomes[n] is None]
        if todo:
            self._publish(batch, todo, outcomes)
            released = [
                batch[n].once[0]  # type: ignore[index]
                for n in todo
                if batch[n].once is not None and isinstance(outcomes[n], BrokerUnavailable)
            ]
            if released:  # the provider retries with the same token: let it in then
                try:
                    self.tokens.release_many(released)
                except BROKER_ERRORS as exc:
                    log.warning("could not give back %d webhook tokens: %s", len(released), exc)
        return [o if o is not None else RuntimeError("not sent") for o in outcomes]

    def _publish(
        self, batch: Sequence[Outgoing], todo: list[int], outcomes: list[str | BaseException | None]
    ) -> None:
        app = self.app
        try:
            with app.producer_or_acquire() as producer:
                if producer.supports_batch_publish:
                    ids = []
                    # All messages in one pipeline: accepted together once it executed.
                    with producer.batch(max_size=MAX_BATCH + 1):
                        for n in todo:
                            ids.append(_send_item(app, producer, batch[n]))
                    for n, task_id in zip(todo, ids, strict=True):
                        outcomes[n] = task_id
                    return
                for n in todo:  # one by one, each confirmed (RabbitMQ publisher confirms)
                    try:
                        outcomes[n] = _send_item(app, producer, batch[n])
                    except BROKER_ERRORS as exc:
                        outcomes[n] = unavailable(exc)
        except BROKER_ERRORS as exc:
            for n in todo:
                if outcomes[n] is None:
                    outcomes[n] = unavailable(exc)


# KEYS: the token's key, the queue; ARGV: seconds the token is remembered, the message.
# A script's writes are not undone when a later command fails: a refused LPUSH gives the
# token back itself, then fails the batch (503; the provider's retry gets in).
_CLAIM_AND_PUSH = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
    local pushed = redis.pcall('LPUSH', KEYS[2], ARGV[2])
    if type(pushed) == 'table' and pushed.err then
        redis.call('DEL', KEYS[1])
        return pushed
    end
    return 1
end
return 0
"""

_publishers: dict[int, Publisher] = {}


def publisher() -> Publisher:
    """This event loop's publisher (uvicorn runs one loop per process)."""
    loop = asyncio.get_running_loop()
    found = _publishers.get(id(loop))
    if found is None or found.loop is not loop:
        from bounce_worker.celery_app import app
        from bounce_worker.http.webhooks.replay import shared_tokens

        found = Publisher(app, shared_tokens())
        found.loop = loop
        _publishers.clear()
        _publishers[id(loop)] = found
    return found
