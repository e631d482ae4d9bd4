"""Infobip SMS webhooks: delivery reports and inbound messages (JSON, `results` array).

Delivery report (https://www.infobip.com/docs/api/channels/sms/sms-messaging/logs-and-status-reports/receive-outbound-sms-message-report):
`results[]` of `messageId`, `to`, optional `from`/`sender`, `doneAt`, `status` {groupName:
PENDING, UNDELIVERABLE, DELIVERED, EXPIRED, REJECTED; name}, `error` {id, name, permanent}.
Inbound message (https://www.infobip.com/docs/api/channels/sms/sms-messaging/inbound-sms/receive-inbound-sms-messages):
`results[]` of `messageId`, `from` (the subscriber), `to` (our number), `text`,
`cleanText`, `keyword`, `receivedAt`.
"""

from __future__ import annotations

from datetime import datetime

from bounce_worker.domain.events import Event, InvalidEvent, parse_instant
from bounce_worker.parsers._common import NotFeedback, ParseError
from bounce_worker.parsers.sms import SmsContext
from bounce_worker.parsers.sms.build import delivered_report, failed_report, reply
from bounce_worker.parsers.webhooks import require_mapping, require_str

FAILED_GROUPS = frozenset({"UNDELIVERABLE", "EXPIRED", "REJECTED"})
MAX_RESULTS = 1000


def parse(payload: object, ctx: SmsContext) -> list[Event]:
    data = require_mapping(payload, "Infobip webhook")
    results = data.get("results")
    if not isinstance(results, list):
        raise ParseError("Infobip webhook lacks its 'results' array")
    if len(results) > MAX_RESULTS:
        raise ParseError(f"Infobip webhook holds {len(results)} results, more than {MAX_RESULTS}")
    events: list[Event] = []
    skipped = 0
    for item in results:
        result = require_mapping(item, "Infobip result")
        try:
            events.extend(_one(result, ctx))
        except NotFeedback:
            skipped += 1
    if skipped and not events:
        raise NotFeedback("Infobip inbound messages hold no opt-out or opt-in keyword")
    return events


def _one(result: dict, ctx: SmsContext) -> list[Event]:  # type: ignore[type-arg]
    message_id = require_str(result, "messageId", "Infobip result")
    if "status" not in result and ("text" in result or "cleanText" in result):
        return [
            reply(
                "infobip",
                event_id=f"infobip:{message_id}",
                subscriber=result.get("from"),
                our_number=result.get("to"),
                text=result.get("cleanText") or result.get("text"),
                occurred_at=_when(result.get("receivedAt"), ctx.received_at),
                ctx=ctx,
            )
        ]
    status = require_mapping(result.get("status"), "Infobip result's status")
    group = str(status.get("groupName", "")).upper()
    name = str(status.get("name", group)).upper()
    when = _when(result.get("doneAt"), ctx.received_at)
    sender = result.get("from") or result.get("sender")
    if group == "DELIVERED":
        return [
            delivered_report(
                "infobip",
                event_id=f"infobip:{message_id}:{name}",
                recipient=result.get("to"),
                occurred_at=when,
                ctx=ctx,
                sender=sender,
            )
        ]
    if group not in FAILED_GROUPS:
        return []  # PENDING, ACCEPTED: no outcome yet
    error = result.get("error") if isinstance(result.get("error"), dict) else {}
    error_id = error.get("id")
    # No network error (id 0) on a failed report: the status name is the only reason given.
    code = error_id if error_id not in (None, 0, "0", "") else name
    return [
        failed_report(
            "infobip",
            event_id=f"infobip:{message_id}:{name}",
            recipient=result.get("to"),
            code=code,
            status=name,
            occurred_at=when,
            ctx=ctx,
            sender=sender,
            text=str(error.get("name") or "") or None,
        )
    ]


def _when(value: object, default: datetime) -> datetime:
    """Infobip writes `2019-11-09T16:00:00.000+0000`."""
    if not isinstance(value, str) or not value.strip():
        return default
    try:
        return parse_instant(value, "Infobip time")
    except InvalidEvent as exc:
        raise ParseError(str(exc)) from None
