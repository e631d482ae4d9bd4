"""Checked publishing: a request is answered 2xx only once the broker accepted its message.

Celery's own publish retries a lost connection for a long while; here a failure must come
back at once as BrokerUnavailable (503), so the sender keeps the feedback and retries.
On Redis an accepted LPUSH is the acceptance; on RabbitMQ the transport's `confirm_publish`
option (celeryconfig) makes the publish wait for the broker's confirm.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from celery import Task
from kombu.exceptions import KombuError, OperationalError
from kombu.utils.uuid import uuid


class BrokerUnavailable(RuntimeError):
    """The broker did not accept the message: nothing was queued, the caller retries."""


def publish(task: Task, args: Sequence[Any], kwargs: dict[str, Any] | None = None) -> str:
    """Send one task message; returns its id once the broker has it.

    The message is built and sent as `apply_async` would, minus the task-sent event (a
    second publish per message, to the events exchange): it halved the cost of a webhook
    post. Flower still sees each task from its worker's events (received, started,
    succeeded)."""
    app = task.app
    task_id = uuid()
    try:
        message = app.amqp.create_task_message(task_id, task.name, tuple(args), kwargs or {})
        with app.producer_or_acquire() as producer:
            app.amqp.send_task_message(
                producer, task.name, message, queue=app.conf.task_default_queue, retry=False
            )
    except (OperationalError, KombuError, ConnectionError, OSError) as exc:
        raise BrokerUnavailable(
            str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        ) from exc
    return task_id
