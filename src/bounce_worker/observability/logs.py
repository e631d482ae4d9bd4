"""Structured log lines: one JSON object per line when BOUNCE_WORKER_LOG_FORMAT=json.

The service logs each transition and dead letter with `extra=` fields (address, states,
reason, event id); this formatter turns them into keys. Message bodies never reach a log:
the service passes none, and any long string field is cut, so a stray payload cannot flood
the log shipper.
"""

from __future__ import annotations

import json
import logging
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
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
