"""SMPP `deliver_sm` PDUs from the platform's own SMSC link, relayed as JSON.

The SMPP client that holds the bind posts each `deliver_sm` it receives:
`{"source_addr": ..., "destination_addr": ..., "short_message": ..., "esm_class": 4}`.
A delivery receipt (esm_class bit 2, or a short_message in the receipt format) goes from the
original recipient (`source_addr`) to our number (`destination_addr`); its text follows
SMPP 3.4 Appendix B: `id:IIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm
stat:DDDDDDD err:E text:...`. `stat` is DELIVRD, EXPIRED, DELETED, UNDELIV, ACCEPTD,
UNKNOWN, REJECTD (ENROUTE from some SMSCs); `err` is classified by the GSM MAP error table
(domain/sms_codes/gsm.py). Any other deliver_sm is a mobile-originated message: a reply.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bounce_worker.domain.events import Event
from bounce_worker.parsers._common import ParseError
from bounce_worker.parsers.sms import SmsContext
from bounce_worker.parsers.sms.build import delivered_report, failed_report, reply
from bounce_worker.parsers.webhooks import require_mapping

_NAMES = r"(?:id|sub|dlvrd|submit date|done date|stat|err|text)"
RECEIPT_FIELD = re.compile(
    rf"(?<![\w])({_NAMES}):\s*(.*?)(?=\s+{_NAMES}:|$)", re.IGNORECASE | re.DOTALL
)
FAILED = frozenset({"UNDELIV", "EXPIRED", "DELETED", "REJECTD", "UNKNOWN"})
RECEIPT_ESM_BIT = 0x04  # esm_class "SMSC Delivery Receipt" (SMPP 3.4 section 5.2.12)


def parse(payload: object, ctx: SmsContext) -> list[Event]:
    data = require_mapping(payload, "SMPP deliver_sm")
    text = data.get("short_message")
    if not isinstance(text, str):
        raise ParseError("SMPP deliver_sm lacks its short_message text")
    esm = data.get("esm_class", 0)
    fields = receipt_fields(text)
    if (isinstance(esm, int) and esm & RECEIPT_ESM_BIT) or "stat" in fields:
        return _receipt(data, fields, ctx)
    message_id = data.get("message_id") or data.get("sequence_number")
    if not message_id:
        raise ParseError("SMPP mobile-originated deliver_sm lacks message_id")
    return [
        reply(
            "smpp",
            event_id=f"smpp:mo:{message_id}",
            subscriber=data.get("source_addr"),
            our_number=data.get("destination_addr"),
            text=text,
            occurred_at=ctx.received_at,
            ctx=ctx,
        )
    ]


def receipt_fields(text: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2).strip() for m in RECEIPT_FIELD.finditer(text)}


def _receipt(data: dict, fields: dict[str, str], ctx: SmsContext) -> list[Event]:  # type: ignore[type-arg]
    message_id = fields.get("id") or data.get("receipted_message_id")
    stat = fields.get("stat", "").upper()
    if not message_id or not stat:
        raise ParseError("SMPP delivery receipt lacks its id: or stat: field")
    when = _done_date(fields.get("done date")) or ctx.received_at
    if stat == "DELIVRD":
        return [
            delivered_report(
                "smpp",
                event_id=f"smpp:{message_id}:{stat}",
                recipient=data.get("source_addr"),
                occurred_at=when,
                ctx=ctx,
                sender=data.get("destination_addr"),
            )
        ]
    if stat not in FAILED:
        return []  # ACCEPTD, ENROUTE: not final
    return [
        failed_report(
            "smpp",
            event_id=f"smpp:{message_id}:{stat}",
            recipient=data.get("source_addr"),
            code=fields.get("err") or None,
            status=stat,
            occurred_at=when,
            ctx=ctx,
            sender=data.get("destination_addr"),
        )
    ]


def _done_date(value: str | None) -> datetime | None:
    """YYMMDDhhmm (SMPP 3.4), some SMSCs add seconds; taken as UTC (the receipt has no zone)."""
    if not value:
        return None
    text = value.strip()
    fmt = {10: "%y%m%d%H%M", 12: "%y%m%d%H%M%S"}.get(len(text))
    if fmt and text.isdigit():
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            pass
    raise ParseError(f"SMPP receipt done date is not YYMMDDhhmm: {value[:20]!r}")
