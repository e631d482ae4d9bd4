"""Vonage (Nexmo) SMS API webhooks: delivery receipts and inbound messages.

Delivery receipt (https://developer.vonage.com/en/messaging/sms/guides/delivery-receipts):
`msisdn` (the recipient), `to` (our number or sender id), `messageId`, `status` (delivered,
expired, failed, rejected, accepted, buffered, unknown), `err-code`, `message-timestamp`
("2020-01-01 12:00:00", UTC). Inbound message
(https://developer.vonage.com/en/messaging/sms/guides/inbound-sms): `msisdn` (the
subscriber), `to` (our number), `messageId`, `text`, `keyword`, `message-timestamp`.
Vonage sends these as GET query parameters, a form or JSON, all strings.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bounce_worker.domain.events import Event
from bounce_worker.parsers._common import ParseError
from bounce_worker.parsers.sms import SmsContext
from bounce_worker.parsers.sms.build import delivered_report, failed_report, reply
from bounce_worker.parsers.webhooks import require_mapping, require_str

FAILED = frozenset({"failed", "rejected", "expired", "unknown"})


def parse(payload: object, ctx: SmsContext) -> list[Event]:
    data = require_mapping(payload, "Vonage webhook")
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
