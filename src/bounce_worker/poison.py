"""Malformed task messages: dead-lettered and acknowledged, never fatal to a worker.

Celery trusts the shape of what it takes off the queue. A task message whose body is
`{"a":1}` or `5`, a `timelimit` header that is not a pair, an `eta` that is no date, JSON
nested a hundred thousand levels deep or an envelope whose body is not base64 raises inside
the consumer's event loop, and the worker exits with "Unrecoverable error"; the message
goes back on the queue and kills the next worker too. Other shapes (an unknown task name,
a wrong argument count, a pickle content type) are rejected or failed with no trace.

Here every task message is checked once, in the worker's main process, before Celery's
strategy builds a request from it (`check`): headers, content type, body decoded with a
nesting cap, the arguments bound to the task's signature. A message that fails any check,
and one that makes Celery raise anyway, is stored as a dead letter of kind "message" with
its raw body and the reason, then acknowledged. `GuardedConsumer` (celeryconfig
`worker_consumer`) installs this for every broker; the Redis transport sends a broken
envelope here before kombu parses it (broker.py).
"""

from __future__ import annotations

import inspect
import json
import logging
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from celery.worker.consumer.consumer import Consumer
from kombu.utils.encoding import safe_repr

from bounce_worker import limits, memory

log = logging.getLogger("bounce_worker.poison")

KIND = "message"

# The task whose function does not take what its messages carry: celery-batches'
# process_event runs on a list of requests, each message holds one event.
MESSAGE_SIGNATURES: dict[str, inspect.Signature] = {
    "bounce_worker.process_event": inspect.signature(lambda event: None),
}


class Malformed(ValueError):
    """A task message that cannot be run; the message is the one-line dead-letter reason."""


def check(
    headers: Any, body: Any, content_type: str | None, content_encoding: str | None, tasks: Any
) -> None:
    """Raise Malformed when Celery could not turn this message into a request and run it."""
    if not isinstance(headers, Mapping):
        raise Malformed(f"headers are not a mapping: {_short(headers)}")
    name = headers.get("task")
    if not isinstance(name, str) or not name:
        raise Malformed(f"no task name header: {_short(name)}")
    if name not in tasks:
        raise Malformed(f"unknown task {_short(name)}")
    if not isinstance(headers.get("id"), str) or not headers["id"]:
        raise Malformed(f"task id header is not a string: {_short(headers.get('id'))}")
    _check_headers(headers)
    if content_type != "application/json":
        raise Malformed(f"content type {_short(content_type)} is not application/json")
    if content_encoding not in (None, "utf-8", "utf8"):
        raise Malformed(f"content encoding {_short(content_encoding)} is not utf-8")
    args, kwargs = _decode_body(body)
    signature = MESSAGE_SIGNATURES.get(name)
    if signature is None:
        signature = inspect.signature(tasks[name].run)
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise Malformed(f"arguments do not fit {name}{signature}: {exc}") from None


def _check_headers(headers: Mapping[str, Any]) -> None:
    timelimit = headers.get("timelimit")
    if timelimit is not None:
        if not isinstance(timelimit, list | tuple) or len(timelimit) != 2:
            raise Malformed(f"timelimit header is not a [soft, hard] pair: {_short(timelimit)}")
        for value in timelimit:
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or value < 0
            ):
                raise Malformed(f"timelimit header holds a bad number: {_short(timelimit)}")
    for key in ("eta", "expires"):
        value = headers.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise Malformed(f"{key} header is not an ISO 8601 string: {_short(value)}")
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise Malformed(f"{key} header is not an ISO 8601 date: {_short(value)}") from None
    retries = headers.get("retries")
    if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int)):
        raise Malformed(f"retries header is not a whole number: {_short(retries)}")
    for key in ("argsrepr", "kwargsrepr", "root_id", "parent_id", "group", "lang"):
        value = headers.get(key)
        if value is not None and not isinstance(value, str):
            raise Malformed(f"{key} header is not a string: {_short(value)}")


def _decode_body(body: Any) -> tuple[list[Any], dict[str, Any]]:
    """Protocol 2 body: [args, kwargs, embed], JSON, nested at most limits.MAX_JSON_DEPTH."""
    if isinstance(body, bytes | bytearray | memoryview):
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Malformed(f"body is not UTF-8: {exc}") from None
    elif isinstance(body, str):
        text = body
    else:
        raise Malformed(f"body is not text: {type(body).__name__}")
    try:
        decoded = json.loads(text)
    except RecursionError:
        raise Malformed("body nests too deep for the JSON decoder") from None
    except ValueError as exc:
        raise Malformed(f"body is not valid JSON: {exc}") from None
    depth = json_depth(decoded)
    if depth > limits.MAX_JSON_DEPTH:
        raise Malformed(f"body nests {depth} levels deep (limit {limits.MAX_JSON_DEPTH})")
    if not isinstance(decoded, list) or len(decoded) != 3:
        raise Malformed(f"body is not an [args, kwargs, embed] triple: {_short(decoded)}")
    args, kwargs, embed = decoded
    if not isinstance(args, list):
        raise Malformed(f"task arguments are not a list: {_short(args)}")
    if not isinstance(kwargs, dict):
        raise Malformed(f"task keyword arguments are not an object: {_short(kwargs)}")
    if embed is not None and not isinstance(embed, dict):
        raise Malformed(f"task options are not an object: {_short(embed)}")
    for key in ("callbacks", "errbacks", "chain", "chord"):
        if embed and embed.get(key) not in (None, []):
            raise Malformed(f"task options carry a {key}: not accepted on this queue")
    return args, kwargs


def json_depth(value: Any) -> int:
    """How deep lists and objects nest in a decoded JSON value; no recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in node if isinstance(child, list | dict))
    return deepest


def _short(value: Any) -> str:
    return safe_repr(value)[:120]


def dead_letter(body: Any, source: str, reason: str) -> int:
    """Store a message that cannot be run (raw body, reason). Raises when the database
    cannot take it (the caller leaves the message on the queue)."""
    from bounce_worker import service  # the worker's modules, loaded once it runs
    from bounce_worker.clock import utcnow
    from bounce_worker.config import settings
    from bounce_worker.store.db import get_engine

    raw = _raw_bytes(body)
    return service.dead_letter(
        get_engine(settings().database_url), KIND, source, raw, reason[:2000], utcnow()
    )


def _raw_bytes(body: Any) -> bytes:
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8", "surrogateescape")
    try:
        return json.dumps(body).encode()
    except (TypeError, ValueError, RecursionError):
        return repr(body).encode("utf-8", "backslashreplace")


def source_of(headers: Any) -> str:
    if isinstance(headers, Mapping):
        return f"message:{str(headers.get('id'))[:80]}"
    return "message:?"


REDACTED = "(redacted)"


def redact_arguments(headers: Any) -> None:
    """A task's arguments hold addresses and mail; the worker's task events (what Flower
    shows and keeps) carry the message's `argsrepr`/`kwargsrepr` headers: blank them, so no
    event, whoever produced the message, ever carries the arguments (erasure could not
    reach Flower's database)."""
    if isinstance(headers, dict):
        headers["argsrepr"] = REDACTED
        headers["kwargsrepr"] = REDACTED


class GuardedConsumer(Consumer):  # type: ignore[misc]
    """Celery's consumer, with every task message checked before it becomes a request."""

    def create_task_handler(self, *args: Any, **kwargs: Any) -> Any:
        handle = super().create_task_handler(*args, **kwargs)
        tasks = self.app.tasks
        after_big = memory.AfterBigMessages(self.timer)

        def on_task_received(message: Any) -> Any:
            after_big.took(message)
            try:
                check(
                    message.headers,
                    message.body,
                    message.content_type,
                    message.content_encoding,
                    tasks,
                )
            except Malformed as exc:
                return self.quarantine(message, str(exc))
            except Exception as exc:  # the check itself must not stop the worker either
                return self.quarantine(message, f"unreadable message: {_describe(exc)}")
            redact_arguments(message.headers)
            try:
                return handle(message)
            except self.connection_errors:
                raise
            except Exception as exc:
                return self.quarantine(message, f"cannot be run: {_describe(exc)}")

        return on_task_received

    def quarantine(self, message: Any, reason: str) -> None:
        """Dead-letter the message's raw body, then acknowledge it. While the database
        is out the message is given back to the queue (after a pause: no hot loop)."""
        headers = getattr(message, "headers", None)
        body = getattr(message, "body", message)
        try:
            dead_letter(body, source_of(headers), reason)
        except Exception:
            log.exception("malformed message not stored; it goes back on the queue")
            time.sleep(1)
            if hasattr(message, "reject") and not message.acknowledged:
                message.reject(requeue=True)
            return
        if hasattr(message, "ack") and not message.acknowledged:
            message.ack()

    # Celery's own handlers log and drop (or reject) these: the guard keeps them.
    def on_decode_error(self, message: Any, exc: Exception) -> None:
        self.quarantine(message, f"body cannot be decoded: {_describe(exc)}")

    def on_unknown_message(self, body: Any, message: Any) -> None:
        self.quarantine(message, "not a task message")

    def on_unknown_task(self, body: Any, message: Any, exc: Exception) -> None:
        self.quarantine(message, f"unknown task: {_describe(exc)}")

    def on_invalid_task(self, body: Any, message: Any, exc: Exception) -> None:
        self.quarantine(message, f"invalid task message: {_describe(exc)}")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"
