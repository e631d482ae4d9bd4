"""Twilio Programmable Messaging webhooks (application/x-www-form-urlencoded fields).

Status callback (https://www.twilio.com/docs/messaging/guides/track-outbound-message-status):
`MessageSid`, `MessageStatus` (queued, sending, sent, delivered, undelivered, failed, read,
...), `ErrorCode` when it failed, `From` (our number), `To` (the recipient).
Incoming message (https://www.twilio.com/docs/messaging/guides/webhook-request): `MessageSid`,
`From` (the subscriber), `To` (our number), `Body`, and with Advanced Opt-Out `OptOutType`
(STOP, START, HELP): Twilio's own verdict on the keyword, which we follow.
"""

from __future__ import annotations

from typing import Any

from bounce_worker.domain.events import Event
from bounce_worker.parsers._common import NotFeedback
from bounce_worker.parsers.sms import SmsContext
from bounce_worker.parsers.sms.build import delivered_report, failed_report, reply
from bounce_worker.parsers.sms.keywords import Keyword
from bounce_worker.parsers.webhooks import require_mapping, require_str

FAILED = frozenset({"failed", "undelivered"})
DELIVERED = frozenset({"delivered", "read"})
OPT_OUT_TYPES = {"STOP": Keyword.OPT_OUT, "START": Keyword.OPT_IN}


def parse(payload: object, ctx: SmsContext) -> list[Event]:
    data = require_mapping(payload, "Twilio webhook")
    fields: dict[str, Any] = {k: _one(v) for k, v in data.items()}
    sid = fields.get("MessageSid") or fields.get("SmsSid")
    if not isinstance(sid, str) or not sid.strip():
        sid = require_str(fields, "MessageSid", "Twilio webhook")  # raises: names the field
    sid = sid.strip()
    if "Body" in fields or "OptOutType" in fields:
        opt = str(fields.get("OptOutType") or "").strip().upper()
        if opt and opt not in OPT_OUT_TYPES:
            raise NotFeedback(f"Twilio inbound message with OptOutType {opt} (not an opt-out/in)")
        return [
            reply(
                "twilio",
                event_id=f"twilio:{sid}",
                subscriber=fields.get("From"),
                our_number=fields.get("To"),
                text=fields.get("Body"),
                occurred_at=ctx.received_at,
                ctx=ctx,
                forced=OPT_OUT_TYPES.get(opt),
            )
        ]
    status = str(fields.get("MessageStatus") or fields.get("SmsStatus") or "").strip().lower()
    if not status:
        require_str(fields, "MessageStatus", "Twilio status callback")
    if status in DELIVERED:
        return [
            delivered_report(
                "twilio",
                event_id=f"twilio:{sid}:{status}",
                recipient=fields.get("To"),
                occurred_at=ctx.received_at,
                ctx=ctx,
                sender=fields.get("From"),
            )
        ]
    if status in FAILED:
        return [
            failed_report(
                "twilio",
                event_id=f"twilio:{sid}:{status}",
                recipient=fields.get("To"),
                code=fields.get("ErrorCode"),
                status=status,
                occurred_at=ctx.received_at,
                ctx=ctx,
                sender=fields.get("From"),
            )
        ]
    # queued, sending, sent, accepted, scheduled, canceled ...: no outcome yet (or none).
    return []


def _one(value: object) -> object:
    """Form fields decoded by a framework may come as one-element lists."""
    if isinstance(value, list | tuple):
        return value[0] if value else None
    return value
