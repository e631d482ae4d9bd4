"""Structured log lines: one JSON object per line when BOUNCE_WORKER_LOG_FORMAT=json.

The service logs each transition and dead letter with `extra=` fields (address, states,
reason, event id); this formatter turns them into keys. Message bodies never reach a log:
the service passes none, and any long string field is cut, so a stray payload cannot flood
the log shipper.

Logs never carry an address (erasure could not reach them): `Redact`, on every handler the
worker and the CLI set up, replaces each email address and E.164 phone number in a line, its
fields and its traceback with a keyed hash, `addr:` + 16 hex digits (HMAC-SHA256 with
BOUNCE_WORKER_SECRET_KEY; without it, with a key random per process). The same address gives
the same hash in every line, so lines about one contact can still be followed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

# Every attribute a plain LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
# Celery's own "received"/"succeeded" records carry the task's arguments in `data`: an
# event with its diagnostic. Those keys are dropped; the task id and name stay.
_BODIES = {"args", "kwargs"}
MAX_FIELD = 500  # characters; longer strings are cut with a marker
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_FIELD:
        return value[:MAX_FIELD] + "...[cut]"
    return value


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, message, then the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": _cut(record.getMessage()),
        }
        line.update(_task_context())
        for key, value in record.__dict__.items():
            if key == "data" and isinstance(value, dict):
                value = {k: _cut(v) for k, v in value.items() if k not in _BODIES}
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = _cut(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


# The message a line is about, when one task applies many (grouping.py): its task id is
# the one Flower shows for that message, not the group's.
_message: ContextVar[str | None] = ContextVar("bounce_worker_message", default=None)


@contextmanager
def about_message(task_id: str | None) -> Iterator[None]:
    """Lines logged inside the block carry `task_id` (when given) as their task id."""
    token = _message.set(task_id)
    try:
        yield
    finally:
        _message.reset(token)


def _task_context() -> dict[str, str]:
    """The running Celery task's id and name, so a line can be found in Flower."""
    from celery import current_task

    task = current_task
    message = _message.get()
    if task and message:
        return {"task_id": message, "task_name": task.name}
    if task and task.request and task.request.id:
        return {"task_id": task.request.id, "task_name": task.name}
    return {}


# Any email address (also in `<...>`, quotes, after "rfc822;"), and an E.164 number.
_ADDRESS = re.compile(r"[^\s<>()\[\]{},;:\"'=/\\@]{1,64}@[^\s<>()\[\]{},;:\"'/\\@]{1,255}")
_PHONE = re.compile(r"(?<![\w+])\+\d{7,15}(?!\d)")


class Redact(logging.Filter):
    """Replaces addresses and phone numbers in a record by their keyed hash (module doc)."""

    def __init__(self, secret: str | None = None) -> None:
        super().__init__()
        self._key = (secret or "").encode() or os.urandom(32)

    def hashed(self, match: re.Match[str]) -> str:
        value = match.group().lower().rstrip(".")
        return "addr:" + hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()[:16]

    def redact(self, text: str) -> str:
        if "@" in text:
            text = _ADDRESS.sub(self.hashed, text)
        if "+" in text:
            text = _PHONE.sub(self.hashed, text)
        return text

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {k: self._value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._value(v) for v in value)
        return value

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what can be kept
            message = str(record.msg)
        record.msg, record.args = self.redact(message), ()
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and not key.startswith("_"):
                setattr(record, key, self._value(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def redact_handlers(logger: logging.Logger, secret: str | None) -> None:
    """Put one `Redact` on every handler of `logger` (once)."""
    for handler in logger.handlers:
        if not any(isinstance(f, Redact) for f in handler.filters):
            handler.addFilter(Redact(secret))


def use_json(logger: logging.Logger) -> None:
    """Give every handler of `logger` the JSON formatter (Celery's after_setup_* signals)."""
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter())


def configure_cli(log_format: str) -> None:
    """Logs of a `bounce-worker` command go to stderr. JSON feeds a log shipper, so it carries
    every transition (INFO); text is read on a terminal, so only warnings (dead letters)."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
        level = logging.INFO
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
        level = logging.WARNING
    from bounce_worker.config import settings

    handler.addFilter(Redact(settings().secret_key))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
