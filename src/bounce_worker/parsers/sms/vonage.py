"""Vonage (Nexmo) SMS API webhooks: delivery receipts and inbound messages.

Delivery receipt (https://developer.vonage.com/en/messaging/sms/guides/delivery-receipts):
`msisdn` (the recipient), `to` (our number or sender id), `messageId`, `status` (delivered,
expired, failed, rejected, accepted, buffered, unknown), `err-code`, `message-timestamp`
("2020-01-01 12:00:00", UTC). Inbound message
(https://developer.vonage.com/en/messaging/sms/guides/inbound-sms): `msisdn` (the
subscriber), `to` (our number), `messageId`, `text`, `keyword`, `message-timestamp`.
Vonage sends these as GET query parameters, a form or JSON, all strings.

Messages API webhooks (signed with a JWT; https://developer.vonage.com/en/messages/concepts/messages-status-callbacks),
recognised by `message_uuid`, `channel` "sms": a status (`to` the recipient, `from` our
number, `status` submitted / delivered / rejected / undeliverable, `error` {type, title,
detail}, `timestamp` ISO 8601) or an inbound message (`from` the subscriber, `to` our
number, `text`). Their error codes are not the SMS API's DLR codes and no table maps them
yet: a rejection is a soft bounce whose reason keeps the code (`unmapped:vonage:messages-1250`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from bounce_worker.domain.events import Event, InvalidEvent, parse_instant
from bounce_worker.parsers._common import NotFeedback, ParseError
from bounce_worker.parsers.sms import SmsContext
from bounce_worker.parsers.sms.build import delivered_report, failed_report, reply
from bounce_worker.parsers.webhooks import require_mapping, require_str

FAILED = frozenset({"failed", "rejected", "expired", "unknown"})


def parse(payload: object, ctx: SmsContext) -> list[Event]:
    data = require_mapping(payload, "Vonage webhook")
    if "message_uuid" in data:
        return _messages_api(data, ctx)
    message_id = require_str(data, "messageId", "Vonage webhook")
    when = _timestamp(data.get("message-timestamp")) or ctx.received_at
    if "text" in data or data.get("type") in ("text", "unicode"):
        return [
            reply(
                "vonage",
                event_id=f"vonage:{message_id}",
                subscriber=data.get("msisdn"),
                our_number=data.get("to"),
                text=data.get("text"),
                occurred_at=when,
                ctx=ctx,
            )
        ]
    status = require_str(data, "status", "Vonage delivery receipt").lower()
    code = str(data.get("err-code", "")).strip()
    if status == "delivered":
        return [
            delivered_report(
                "vonage",
                event_id=f"vonage:{message_id}:delivered",
                recipient=data.get("msisdn"),
                occurred_at=when,
                ctx=ctx,
                sender=data.get("to"),
            )
        ]
    if status in FAILED:
        return [
            failed_report(
                "vonage",
                event_id=f"vonage:{message_id}:{status}:{code}",
                recipient=data.get("msisdn"),
                code=code or None,
                status=status,
                occurred_at=when,
                ctx=ctx,
                sender=data.get("to"),
            )
        ]
    return []  # accepted, buffered: still on its way


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise ParseError(
            f"Vonage message-timestamp is not 'YYYY-MM-DD hh:mm:ss': {value[:40]!r}"
        ) from None


MESSAGES_FAILED = frozenset({"rejected", "undeliverable"})


def _messages_api(data: dict, ctx: SmsContext) -> list[Event]:  # type: ignore[type-arg]
    uuid = require_str(data, "message_uuid", "Vonage Messages API webhook")
    channel = str(data.get("channel") or "sms").lower()
    if channel != "sms":
        raise NotFeedback(f"Vonage Messages API webhook for channel {channel[:20]!r}, not SMS")
    when = _iso(data.get("timestamp")) or ctx.received_at
    if "status" not in data:
        return [
            reply(
                "vonage",
                event_id=f"vonage:{uuid}",
                subscriber=data.get("from"),
                our_number=data.get("to"),
                text=data.get("text") if isinstance(data.get("text"), str) else None,
                occurred_at=when,
                ctx=ctx,
            )
        ]
    status = require_str(data, "status", "Vonage Messages API status").lower()
    if status == "delivered":
        return [
            delivered_report(
                "vonage",
                event_id=f"vonage:{uuid}:delivered",
                recipient=data.get("to"),
                occurred_at=when,
                ctx=ctx,
                sender=data.get("from"),
            )
        ]
    if status not in MESSAGES_FAILED:
        return []  # submitted, read: no outcome to record
    error = data.get("error") if isinstance(data.get("error"), dict) else {}
    title = str(error.get("title") or "").strip()
    code = title if title.isdigit() else str(error.get("type") or "").rpartition("#")[2].strip()
    return [
        failed_report(
            "vonage",
            event_id=f"vonage:{uuid}:{status}",
            recipient=data.get("to"),
            code=f"messages-{code}" if code else status,
            status=status,
            occurred_at=when,
            ctx=ctx,
            sender=data.get("from"),
            text=str(error.get("detail") or "")[:200] or None,
        )
    ]


def _iso(value: object) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return parse_instant(value, "Vonage timestamp")
    except InvalidEvent as exc:
        raise ParseError(str(exc)) from None
