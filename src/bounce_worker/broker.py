"""A Redis transport that loses no message when a worker is killed.

kombu's Redis transport takes a message with BRPOP and only then records it in its
"unacked" hash: a worker killed between the two (kill -9, OOM killer, power loss) loses
that message for good. The fault tests hit that window (tests/faults/test_kill_worker.py).

Here a worker that consumes one queue takes its message with BLMOVE instead, which moves it
atomically onto `<queue>.inflight`; kombu's own bookkeeping then records it as unacked
(and redelivers it after the visibility timeout), and only then is it removed from the
inflight list. A message seen on the inflight list by two sweeps in a row (seconds apart;
the legitimate stay is microseconds) belonged to a worker that died in the window: it goes
back on the queue. At worst a message is delivered twice, which the event-id claim absorbs.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kredis
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads

# Atomic, so two workers sweeping at once restore a message once.
_RESTORE = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then
    redis.call('RPUSH', KEYS[2], ARGV[1])
    return 1
end
return 0
"""


class ReliableQoS(kredis.QoS):  # type: ignore[misc]
    def restore_visible(self, *args: Any, **kwargs: Any) -> None:
        super().restore_visible(*args, **kwargs)
        self.channel.restore_orphans()


class ReliableChannel(kredis.Channel):  # type: ignore[misc]
    QoS = ReliableQoS
    _moving: str | None = None  # the queue of the BLMOVE in flight, None for a plain BRPOP
    _seen: frozenset[bytes] = frozenset()

    def _brpop_start(self, timeout: int | None = None) -> None:
        queues = list(self.active_queues)
        if len(queues) != 1 or list(self.priority_steps) != [0]:
            self._moving = None  # several keys: BLMOVE takes one, so kombu's BRPOP
            return super()._brpop_start(timeout)
        queue = self._moving = queues[0]
        self._in_poll = self.client.connection
        self._brpop_sent_at = kredis.monotonic()
        self.client.connection.send_command(
            "BLMOVE", queue, inflight(queue), "RIGHT", "LEFT", timeout or self.brpop_timeout or 0
        )

    def _brpop_read(self, **options: Any) -> bool:
        queue = self._moving
        if queue is None:
            return bool(super()._brpop_read(**options))
        try:
            try:
                item = self.client.parse_response(self.client.connection, "BLMOVE", **options)
            except self.connection_errors:
                self.client.connection.disconnect()
                raise
            if not item:
                raise kredis.Empty()
            self.connection._deliver(loads(bytes_to_str(item)), queue)  # now in "unacked"
            with self.conn_or_acquire() as client:
                client.lrem(inflight(queue), 1, item)
            return True
        finally:
            self._in_poll = None
            self._flush_brpop_reauth()

    def restore_orphans(self) -> None:
        """Put back what a dead worker had moved but never recorded (see module doc)."""
        for queue in self.active_queues:
            with self.conn_or_acquire() as client:
                now = frozenset(client.lrange(inflight(queue), 0, -1))
                for item in now & self._seen:
                    client.eval(_RESTORE, 2, inflight(queue), queue, item)
            self._seen = now


class ReliableRedisTransport(kredis.Transport):  # type: ignore[misc]
    Channel = ReliableChannel


def inflight(queue: str) -> str:
    return f"{queue}.inflight"
