"""Memory a worker gives back after a big message (memory.py, broker.py).

On the real Redis: the reliable transport drops an acknowledged message at once (kombu kept
it in `_delivered` until the next message arrived, so an idle worker held its last raw mail),
and `AfterBigMessages` trims only once every big message it watches is gone."""

from __future__ import annotations

import gc
import subprocess
import sys
import time
import uuid
import weakref
from typing import Any

import pytest
import redis
from kombu import Connection, Exchange, Queue

from bounce_worker import memory
from bounce_worker.broker import ReliableRedisTransport
from tests.conftest import REDIS_URL


@pytest.mark.parametrize("outcome", ["ack", "reject"])
def test_an_acknowledged_message_is_not_kept(outcome: str) -> None:
    name = f"bw-memory-{uuid.uuid4().hex[:8]}"
    options = {"priority_steps": [0], "visibility_timeout": 3600,
               "unacked_key": f"{name}.unacked", "unacked_index_key": f"{name}.unacked_index",
               "unacked_mutex_key": f"{name}.unacked_mutex"}  # fmt: skip
    queue = Queue(name, Exchange(name, type="direct"), routing_key=name)
    seen: list[weakref.ref[Any]] = []
    try:
        with Connection(REDIS_URL, transport=ReliableRedisTransport,
                        transport_options=options) as c:  # fmt: skip
            c.Producer(serializer="json").publish(
                {"mail": "x" * (2 * memory.BIG_BYTES)}, exchange=queue.exchange,
                routing_key=name, declare=[queue],
            )  # fmt: skip

            def on_message(body: Any, message: Any) -> None:
                seen.append(weakref.ref(message))
                message.ack() if outcome == "ack" else message.reject(requeue=False)

            with c.Consumer(queue, callbacks=[on_message]) as consumer:
                deadline = time.monotonic() + 10
                while not seen and time.monotonic() < deadline:
                    c.drain_events(timeout=1)
                assert seen, "the message was not delivered"
                gc.collect()
                # The consumer is still open and idle: nothing else arrives to flush kombu.
                assert consumer.channel.qos._delivered == {}
                assert seen[0]() is None, "the acknowledged message is still alive"
    finally:
        keys = [name, f"{name}.inflight"] + [f"{name}.{k}" for k in ("unacked", "unacked_index")]
        redis.Redis.from_url(REDIS_URL).delete(*keys)


class FakeTimer:
    def __init__(self) -> None:
        self.due: list[Any] = []

    def call_after(self, seconds: float, fun: Any) -> None:
        self.due.append(fun)

    def run(self) -> None:
        due, self.due = self.due, []
        for fun in due:
            fun()


class Message:
    def __init__(self, size: int) -> None:
        self.body = b"x" * size


def test_trims_once_every_big_message_is_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[int] = []
    monkeypatch.setattr(memory, "trim", lambda: trims.append(1))
    timer = FakeTimer()
    watch = memory.AfterBigMessages(timer)

    watch.took(Message(100))  # small: nothing to do
    assert timer.due == []

    first, second = Message(memory.BIG_BYTES + 1), Message(memory.BIG_BYTES + 1)
    watch.took(first)
    watch.took(second)
    assert len(timer.due) == 1  # one check armed, not one per message
    timer.run()
    assert trims == [] and len(timer.due) == 1  # both in flight: look again later
    del first
    timer.run()
    assert trims == [] and len(timer.due) == 1  # one still in flight
    del second
    timer.run()
    assert trims == [1] and timer.due == []  # all gone: trimmed, and no check left armed


FREE_AFTER_BIG = """
import sys
from bounce_worker import memory
if sys.argv[1] == "set":
    memory.big_buffers_unmapped()
def rss():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS"))
size = 20 * 1024 * 1024
first = bytearray(size)
del first  # glibc (left alone) now takes blocks up to 20 MB from the heap
second = bytearray(size)
before = rss()
del second
print((before - rss()) // 1024)
"""


@pytest.mark.parametrize(("setting", "freed"), [("set", True), ("unset", False)])
def test_a_freed_big_buffer_goes_back_to_the_system(setting: str, freed: bool) -> None:
    out = subprocess.run([sys.executable, "-c", FREE_AFTER_BIG, setting],
                         capture_output=True, text=True, check=True)  # fmt: skip
    given_back_mb = int(out.stdout)
    assert (given_back_mb >= 15) is freed, out.stdout
