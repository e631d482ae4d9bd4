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

What it cannot make safe it refuses: a worker on several queues or priority steps (BLMOVE
takes from one list; kombu's BRPOP fallback would lose messages again) fails at start with
one line. It leans on kombu's Redis channel internals (`_brpop_start`, `_brpop_read`,
`_in_poll`, `_brpop_sent_at`, `_flush_brpop_reauth`), so pyproject pins kombu to the minor
versions it is tested with and the import checks they are there. `global_keyprefix` is
honoured on every key this module names. An envelope that is not a kombu message (not
JSON, no properties, a body that is not base64) is dead-lettered with its raw bytes
(poison.py), never handed to kombu, whose parsing error would stop the worker.
"""

from __future__ import annotations

from typing import Any

import kombu
from kombu.transport import redis as kredis
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads

TESTED_KOMBU = ((5, 7),)  # minor versions whose Redis channel internals this module uses
_INTERNALS = ("_brpop_start", "_brpop_read", "_flush_brpop_reauth", "_in_poll", "conn_or_acquire")


class UnsupportedBroker(RuntimeError):
    """A broker set-up this transport cannot make lossless; the message says why."""


def _check_kombu() -> None:
    version = tuple(int(p) for p in kombu.__version__.split(".")[:2])
    missing = [name for name in _INTERNALS if not hasattr(kredis.Channel, name)]
    if version not in TESTED_KOMBU or missing:
        raise ImportError(
            f"bounce_worker.broker supports kombu {', '.join(f'{a}.{b}' for a, b in TESTED_KOMBU)}"
            f" (installed {kombu.__version__}; missing {', '.join(missing) or 'nothing'}):"
            " install the pinned version (pip install -e .)"
        )


_check_kombu()

# Atomic, so two workers sweeping at once restore a message once.
_RESTORE = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then
    redis.call('RPUSH', KEYS[2], ARGV[1])
    return 1
end
return 0
"""


class ReliableQoS(kredis.QoS):  # type: ignore[misc]
    def append(self, message: Any, delivery_tag: Any) -> None:
        super().append(message, delivery_tag)  # now in "unacked", body and all
        self.channel.taken()
        # Redis keeps the envelope (restores and rejects read it back from "unacked"), so the
        # worker need not hold its text for the task's whole run: for a raw mail that is
        # base64 in JSON in base64, 1.8 times the mail (the task has the decoded body).
        if isinstance(getattr(message, "_raw", None), dict):
            message._raw.pop("body", None)

    def restore_visible(self, *args: Any, **kwargs: Any) -> None:
        super().restore_visible(*args, **kwargs)
        self.channel.restore_orphans()

    # kombu marks an acknowledged (or rejected) message "dirty" and drops it from
    # `_delivered` only at the next `can_consume`/`append`, that is when the next message
    # arrives: an idle worker held its last message (body, decoded arguments) until then,
    # 35 MB after an 8.8 MB mail (bench/hostile.py). Drop it at once; `_flush` pops, so a
    # restore that walks `_delivered` (by popitem) is not disturbed.
    def ack(self, delivery_tag: Any) -> None:
        super().ack(delivery_tag)
        self._flush()

    def reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        super().reject(delivery_tag, requeue=requeue)
        self._flush()


class ReliableChannel(kredis.Channel):  # type: ignore[misc]
    QoS = ReliableQoS
    _moving: str | None = None  # the queue of the BLMOVE in flight, None for a plain BRPOP
    _seen: frozenset[bytes] = frozenset()
    _taking: tuple[str, bytes] | None = None  # (queue, item) moved, not yet in "unacked"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if list(self.priority_steps) != [0]:
            raise UnsupportedBroker(
                "the reliable Redis transport needs priority_steps [0] (one list per queue);"
                f" got {list(self.priority_steps)}"
            )

    def basic_consume(self, queue: str, *args: Any, **kwargs: Any) -> Any:
        if set(self.active_queues) - {queue}:
            raise UnsupportedBroker(
                "the reliable Redis transport consumes one queue per worker; asked for"
                f" {sorted(set(self.active_queues) | {queue})}: run one worker per queue"
            )
        return super().basic_consume(queue, *args, **kwargs)

    def _key(self, name: str) -> str:
        return f"{self.global_keyprefix}{name}"

    def _brpop_start(self, timeout: int | None = None) -> None:
        queues = list(self.active_queues)
        if not queues:
            return
        queue = self._moving = queues[0]
        self._in_poll = self.client.connection
        self._brpop_sent_at = kredis.monotonic()
        self.client.connection.send_command(
            "BLMOVE",
            self._key(queue),
            self._key(inflight(queue)),
            "RIGHT",
            "LEFT",
            timeout or self.brpop_timeout or 0,
        )

    def _brpop_read(self, **options: Any) -> bool:
        queue = self._moving
        try:
            try:
                item = self.client.parse_response(self.client.connection, "BLMOVE", **options)
            except self.connection_errors:
                self.client.connection.disconnect()
                raise
            if not item or queue is None:
                raise kredis.Empty()
            try:
                payload = loads(bytes_to_str(item))
                self.Message(payload, channel=self)  # what kombu builds; raises if broken
            except Exception as exc:
                # Not a kombu envelope: kombu would raise in the event loop and the
                # worker would exit. Keep it as a dead letter instead (poison.py);
                # should the database be out, it stays in inflight and is restored.
                if not _dead_letter_envelope(item, queue, exc):
                    return True  # left in inflight: restore_orphans gives it back later
            else:
                # The item leaves inflight as soon as kombu has recorded it in "unacked"
                # (ReliableQoS.append calls taken()), before the task runs: on the solo pool
                # the task runs inside _deliver, and this frame must not hold the item (1.8
                # times a raw mail) meanwhile.
                self._taking, item = (queue, item), b""
                self.connection._deliver(payload, queue)
                self.taken()  # a consumer without acknowledgements records nothing
                return True
            with self.conn_or_acquire() as client:
                client.lrem(self._key(inflight(queue)), 1, item)
            return True
        finally:
            # Raised before "unacked" had it: it stays in inflight, restore_orphans gives
            # it back to the queue.
            self._taking = None
            self._in_poll = None
            self._flush_brpop_reauth()

    def taken(self) -> None:
        """The item being delivered is in "unacked" now: remove it from inflight."""
        if self._taking is None:
            return
        queue, item = self._taking
        self._taking = None
        with self.conn_or_acquire() as client:
            client.lrem(self._key(inflight(queue)), 1, item)

    def restore_orphans(self) -> None:
        """Put back what a dead worker had moved but never recorded (see module doc)."""
        for queue in self.active_queues:
            with self.conn_or_acquire() as client:
                now = frozenset(client.lrange(self._key(inflight(queue)), 0, -1))
                for item in now & self._seen:
                    client.eval(_RESTORE, 2, self._key(inflight(queue)), self._key(queue), item)
            self._seen = now


class ReliableRedisTransport(kredis.Transport):  # type: ignore[misc]
    Channel = ReliableChannel


def _dead_letter_envelope(item: bytes, queue: str, exc: Exception) -> bool:
    from bounce_worker import poison  # the worker's side, loaded only when needed

    try:
        poison.dead_letter(item, f"message:{queue}", f"broken envelope: {exc!r}"[:500])
    except Exception:
        kredis.logger.exception("broken envelope not stored: left for a later sweep")
        return False
    return True


def inflight(queue: str) -> str:
    return f"{queue}.inflight"
