"""Mailgun webhooks: the current `{"signature", "event-data"}` JSON, and the legacy flat form.

failed (severity permanent) -> bounce; failed with severity temporary is a deferral Mailgun
retries -> no event; complained -> complaint; unsubscribed -> unsubscribe; delivered ->
delivered. Legacy form posts use `event` = bounced / dropped / complained / unsubscribed /
delivered with `code` and `error`. The signature is verified by the HTTP endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bounce_worker.domain.events import Event
from bounce_worker.parsers._common import ParseError, digest, first_status, make_event, one_line
from bounce_worker.parsers.webhooks import metadata, require_mapping, require_str

_IGNORED = frozenset({"accepted", "opened", "clicked", "stored", "rejected"})


def parse(payload: object) -> list[Event]:
    data = require_mapping(payload, "Mailgun payload")
    if "event-data" in data:
        return _current(require_mapping(data["event-data"], "Mailgun event-data"))
    if "event" in data:
        return _legacy(data)
    raise ParseError("Mailgun payload has neither 'event-data' nor 'event'")


def _current(ev: Mapping[str, Any]) -> list[Event]:
    kind = require_str(ev, "event", "Mailgun event-data").lower()
    if kind in _IGNORED:
        return []
    delivery = ev.get("delivery-status") if isinstance(ev.get("delivery-status"), Mapping) else {}
    if kind == "failed":
        if str(ev.get("severity", "permanent")).lower() == "temporary":
            return []
        etype = "bounce"
    else:
        etype = {
            "complained": "complaint",
            "unsubscribed": "unsubscribe",
            "delivered": "delivered",
        }.get(kind, "")
    if not etype:
        raise ParseError(f"Mailgun event {kind[:40]!r} is not a known event")
    message = delivery.get("message") or delivery.get("description") or ev.get("reason")
    code = delivery.get("code")
    org, lst = metadata(ev.get("user-variables"))
    return [
        make_event(
            event_id=f"mailgun:{ev.get('id') or digest(repr(sorted(ev.items())))}",
            type=etype,
            channel="email",
            recipient=require_str(ev, "recipient", "Mailgun event-data"),
            occurred_at=ev.get("timestamp"),
            organization=org,
            list=lst,
            status=(delivery.get("enhanced-code") or first_status(message))
            if etype == "bounce"
            else None,
            smtp_code=code
            if etype == "bounce" and isinstance(code, int) and 200 <= code <= 599
            else None,
            diagnostic=one_line(message) if isinstance(message, str) else None,
            feedback_type="abuse" if etype == "complaint" else None,
            source="mailgun",
        )
    ]


def _legacy(data: Mapping[str, Any]) -> list[Event]:
    kind = require_str(data, "event", "Mailgun payload").lower()
    etype = {
        "bounced": "bounce",
        "complained": "complaint",
        "unsubscribed": "unsubscribe",
        "delivered": "delivered",
    }.get(kind)
    if etype is None:
        if kind in _IGNORED | {"dropped"}:
            return []
        raise ParseError(f"Mailgun event {kind[:40]!r} is not a known event")
    error = data.get("error") or data.get("notification")
    org, lst = metadata(data)
    return [
        make_event(
            event_id=f"mailgun:{data.get('Message-Id') or data.get('message-id') or ''}:"
            f"{digest(repr(sorted((k, str(v)) for k, v in data.items())))}",
            type=etype,
            channel="email",
            recipient=require_str(data, "recipient", "Mailgun payload"),
            occurred_at=_timestamp(data.get("timestamp")),
            organization=org,
            list=lst,
            status=first_status(error) if etype == "bounce" and isinstance(error, str) else None,
            smtp_code=data.get("code") if etype == "bounce" else None,
            diagnostic=one_line(error) if isinstance(error, str) else None,
            feedback_type="abuse" if etype == "complaint" else None,
            source="mailgun",
        )
    ]


def _timestamp(value: object) -> object:
    # Legacy form posts carry the Unix time as a string.
    if isinstance(value, str) and value.replace(".", "", 1).isdigit():
        return float(value)
    return value
