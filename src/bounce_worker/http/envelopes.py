"""Prebuilt task-message envelopes for the Redis broker: the publisher's fast path.

Building a message through Celery and kombu costs about 100 us of CPU (headers, routing,
serialization, the transport's envelope); a signed webhook post costs the server about
that much besides. Per task name, the envelope Celery and kombu build is the same but for
the task id (headers `id` and `root_id`, property `correlation_id`), kombu's delivery tag,
`argsrepr` and the body. So the envelope is built once from Celery's own message (what
`send_task_message` hands kombu's producer) and kombu's Redis transport steps (serialize the
body as JSON, base64 it, add the delivery info), then filled in per message.

tests/integration/test_intake_publisher.py checks that a message built here is, field for
field, the one kombu LPUSHes for the same task id and tag; the webhook tests run real
workers on these messages. Used only where kombu would push one plain list per message: our
Redis transport (`bounce_worker.broker`), no `global_keyprefix`, no queue expiry.
"""

from __future__ import annotations

import base64
from typing import Any

from celery import Celery
from kombu.entity import maybe_delivery_mode
from kombu.utils.json import dumps
from kombu.utils.uuid import uuid

_PROBE = "00000000-0000-0000-0000-000000000000"


class _Capture:
    """Stands in for kombu's producer: keeps what Celery asks it to publish."""

    def __init__(self) -> None:
        self.body: Any = None
        self.kwargs: dict[str, Any] = {}

    def publish(self, body: Any, **kwargs: Any) -> None:
        self.body, self.kwargs = body, kwargs


def fast_path_possible(app: Celery) -> bool:
    conf = app.conf
    transport = str(conf.broker_transport or "")
    options = conf.broker_transport_options or {}
    return (
        str(conf.broker_url or "").startswith("redis://")
        and transport.startswith("bounce_worker.broker")
        and not options.get("global_keyprefix")
        and list(options.get("priority_steps", [0])) == [0]
    )


class Envelopes:
    """Per task name: the envelope with its per-message fields left to fill."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self.queue = str(app.conf.task_default_queue)
        self._templates: dict[str, tuple[dict[str, Any], list[Any]]] = {}

    def _template(self, name: str) -> tuple[dict[str, Any], list[Any]]:
        found = self._templates.get(name)
        if found is not None:
            return found
        amqp = self.app.amqp
        message = amqp.create_task_message(_PROBE, name, (), {}, argsrepr="", kwargsrepr="{}")
        capture = _Capture()
        amqp.send_task_message(capture, name, message, queue=self.queue, retry=False)
        kw = capture.kwargs
        if kw.get("exchange") != "" or kw.get("routing_key") != self.queue:
            raise RuntimeError("task messages are not routed straight to the queue")
        if kw.get("compression") or (kw.get("serializer") or "json") != "json":
            raise RuntimeError("task messages are compressed or not JSON")
        # kombu's Producer.publish and prepare_message, then the virtual transport's
        # basic_publish (what _inplace_augment_message adds).
        skip = {
            "exchange", "routing_key", "serializer", "compression", "retry", "retry_policy",
            "delivery_mode", "declare", "headers", "timeout", "confirm_timeout",
        }  # fmt: skip
        properties = {k: v for k, v in kw.items() if k not in skip}
        properties["delivery_mode"] = maybe_delivery_mode(kw.get("delivery_mode"))
        properties.setdefault("priority", 0)
        properties["delivery_info"] = {"exchange": "", "routing_key": self.queue}
        properties["body_encoding"] = "base64"
        envelope = {
            "body": None,
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": dict(kw.get("headers") or {}),
            "properties": properties,
        }
        args, kwargs, embed = capture.body
        found = (envelope, [list(args), kwargs, embed])
        self._templates[name] = found
        return found

    def build(
        self, name: str, args: Any, argsrepr: str | None, task_id: str | None = None,
        tag: str | None = None,
    ) -> tuple[str, str, bytes]:  # fmt: skip
        """(task id, queue key, the bytes kombu would LPUSH) for one message."""
        template, body = self._template(name)
        task_id = task_id or uuid()
        # Shallow copies: only these top-level fields change (nested values are shared).
        envelope = dict(template)
        headers = envelope["headers"] = dict(template["headers"])
        headers["id"] = headers["root_id"] = task_id
        headers["argsrepr"] = argsrepr if argsrepr is not None else repr(tuple(args))
        properties = envelope["properties"] = dict(template["properties"])
        properties["correlation_id"] = task_id
        properties["delivery_tag"] = tag or uuid()
        data = dumps([list(args), body[1], body[2]])
        envelope["body"] = base64.b64encode(data.encode("utf-8")).decode("ascii")
        return task_id, self.queue, dumps(envelope).encode("utf-8")
