"""One event per message, applied in groups: the worker side of `process_event`.

Celery's own cost per message (receive, hand to a pool process, collect the result, ack)
is about what one database transaction costs, so a task per event spends half its time
on each. With celery-batches, a worker buffers the `process_event` messages it has
received and hands them to a pool process together, at most `event_group_size` of them
and after at most `event_group_wait` seconds: one pool round trip and one transaction
(service.apply_and_follow -> apply.write) for the group. The messages and their
producers do not change.

The delivery guarantee stays at least once with idempotent effects: each message is
acknowledged only after its group committed. celery-batches acknowledges a group when its
function returns, even when it raised, so `apply_group` never raises: a transient error is
retried in place (with backoff, forever, like the other tasks), and any other error falls
back to one event at a time, so only the event that fails is dead-lettered. The one way
out of a retry is the worker's warm shutdown (shutdown.py): `retrying` raises ShuttingDown
between attempts, and the group's messages go back to the queue unacknowledged
(`GIVEN_BACK`), to be applied by the next worker.

celery-batches sends no task events and logs no result for the messages it groups;
`EventGroups` sends the received / started / succeeded events of each one and logs its
"succeeded" line, with its own result, so Flower and the log show every event's task as
they show the others.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar

from celery.worker.request import Request
from celery_batches import Batches, SimpleRequest
from celery_batches.trace import apply_batches_task

from bounce_worker import limits
from bounce_worker.errors import TRANSIENT
from bounce_worker.service import Result
from bounce_worker.shutdown import ShuttingDown, pause

log = logging.getLogger("bounce_worker.tasks")

# (payloads, sources) -> one result per payload, in order.
ApplyMany = Callable[[Sequence[Any], Sequence[str]], list[Result]]
# (payload, source, reason) -> stores the payload as a dead letter.
DeadLetter = Callable[[Any, str, str], None]

T = TypeVar("T")
RETRY_MAX = float(limits.RETRY_BACKOFF_MAX)  # declared once, in limits.py

# What a group's function returns instead of its results when the worker stopped while the
# group waited for the database: its messages are rejected back to the queue (flush below).
GIVEN_BACK = "given back: worker shutting down"


def apply_group(
    apply: ApplyMany, dead_letter: DeadLetter, payloads: Sequence[Any], sources: Sequence[str]
) -> list[str]:
    """Apply a group; one result per payload. Raises only ShuttingDown (see the module doc):
    then nothing of the group is committed or dead-lettered."""
    try:
        return [str(r) for r in retrying(lambda: apply(payloads, sources))]
    except ShuttingDown:
        raise
    except Exception as exc:  # not transient: a bug, in the code or with one event
        if len(payloads) > 1:
            log.error(
                "event group failed (%r): applying its %d events one by one", exc, len(payloads)
            )
            return [
                r
                for p, s in zip(payloads, sources, strict=True)
                for r in apply_group(apply, dead_letter, [p], [s])
            ]
        log.exception("event failed: dead-lettered")
        reason = f"internal error: {type(exc).__name__}: {exc}"
        retrying(lambda: dead_letter(payloads[0], sources[0], reason))
        return [str(Result.DEAD_LETTERED)]


def retrying(call: Callable[[], T]) -> T:
    """`call()`, again after each transient error, waiting 1, 2, 4 ... RETRY_MAX seconds
    (each drawn at random below: full jitter). The messages stay unacknowledged meanwhile.
    Raises ShuttingDown instead of waiting once the worker is stopping (SIGTERM)."""
    delay = float(limits.RETRY_BACKOFF_FIRST)
    while True:
        try:
            return call()
        except TRANSIENT as exc:
            wait = random.uniform(0, delay)
            log.warning("event group retry: Retry in %.1fs: %r", wait, exc)
            try:
                pause(wait)
            except ShuttingDown:
                log.warning("event group retry stopped: the worker is shutting down")
                raise
            delay = min(delay * 2, RETRY_MAX)


class EventGroups(Batches):  # type: ignore[misc]
    """celery-batches' Batches with a task event per grouped message (for Flower)."""

    def flush(self, requests: Collection[Request]) -> Any:
        for req in requests:
            req.send_event(
                "task-received",
                name=req.name,
                args=req.argsrepr,
                kwargs=req.kwargsrepr,
                root_id=req.root_id,
                parent_id=req.parent_id,
                retries=req.request_dict.get("retries", 0),
            )
        started = time.monotonic()

        def on_accepted(_pid: int, _time_accepted: float) -> None:
            # No pid field: Celery's event dispatcher adds its own, and a second one raised
            # TypeError (seen with --pool solo), losing the group's events.
            for req in requests:
                req.send_event("task-started")

        def on_return(results: list[str] | str | None) -> None:
            if results == GIVEN_BACK:  # stopped while the database was away: nothing applied
                log.warning(
                    "worker shutting down: the %d messages of an event group go back on the "
                    "queue, unacknowledged",
                    len(requests),
                )
                for req in requests:
                    req.reject(requeue=True)
                return
            if not isinstance(results, list):  # apply_group raised after all: a bug here
                log.error("event group lost its results: its messages go back on the queue")
                for req in requests:
                    req.reject(requeue=True)
                return
            runtime = time.monotonic() - started
            for req, result in zip(requests, results, strict=True):
                req.send_event("task-succeeded", result=repr(result), runtime=runtime)
                req.acknowledge()
                # The line Celery logs for every other task, so a message's fate is in the log.
                log.info("Task %s[%s] succeeded in %.6fs: %r", req.name, req.id, runtime, result)

        group = ([SimpleRequest.from_request(r) for r in requests],)
        return self._pool.apply_async(
            apply_batches_task,
            (self, group, 0, None),
            accept_callback=on_accepted,
            callback=on_return,
        )
