"""broker.py honours kombu's `global_keyprefix`: everything the reliable Redis transport
writes (the queue, the inflight list of BLMOVE, kombu's unacked hash and index, bindings)
is under the prefix, and a publisher and a consumer with the prefix exchange messages.

A Redis server of its own (nothing else writes to it), with keyspace notifications on:
every key written during the exchange is seen, even those that live for microseconds
(the inflight list)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from kombu import Connection, Exchange, Queue

from bounce_worker.broker import ReliableRedisTransport

PREFIX = "bw-prefixed:"


def _free_port() -> int:
    """A port of 18300-18399 (this suite's range for servers it starts) that is free."""
    for port in range(18390, 18400):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18390-18399")


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server not installed")
    port = _free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def test_every_key_under_the_prefix_and_messages_pass(private_redis: str) -> None:
    watcher = redis.Redis.from_url(private_redis)
    watcher.config_set("notify-keyspace-events", "KEA")
    events = watcher.pubsub()
    events.psubscribe("__keyevent@0__:*")
    events.get_message(timeout=1)  # the subscription's confirmation

    options = {
        "global_keyprefix": PREFIX,
        "priority_steps": [0],
        "visibility_timeout": 3600,
        "unacked_key": "q.unacked",
        "unacked_index_key": "q.unacked_index",
        "unacked_mutex_key": "q.unacked_mutex",
    }
    queue = Queue("q", Exchange("q", type="direct"), routing_key="q")
    got: list[object] = []
    with Connection(
        private_redis, transport=ReliableRedisTransport, transport_options=options
    ) as c:
        producer = c.Producer(serializer="json")
        for n in range(3):
            producer.publish({"n": n}, exchange=queue.exchange, routing_key="q", declare=[queue])
        assert watcher.llen(f"{PREFIX}q") == 3

        def on_message(body: object, message: object) -> None:
            got.append(body)
            message.ack()  # type: ignore[attr-defined]

        with c.Consumer(queue, callbacks=[on_message]):
            deadline = time.monotonic() + 10
            while len(got) < 3 and time.monotonic() < deadline:
                c.drain_events(timeout=1)
    assert sorted(b["n"] for b in got) == [0, 1, 2]  # type: ignore[index]

    written = set()
    while (event := events.get_message(timeout=0.2)) is not None:
        if event["type"] == "pmessage":
            written.add(event["data"].decode())
    # What the exchange wrote: the queue, the inflight list, kombu's unacked bookkeeping.
    assert {f"{PREFIX}q", f"{PREFIX}q.inflight", f"{PREFIX}q.unacked"} <= written
    assert [key for key in written if not key.startswith(PREFIX)] == []
    assert [k.decode() for k in watcher.keys("*") if not k.decode().startswith(PREFIX)] == []
    assert watcher.llen(f"{PREFIX}q.inflight") == 0
    assert watcher.hlen(f"{PREFIX}q.unacked") == 0  # acknowledged
