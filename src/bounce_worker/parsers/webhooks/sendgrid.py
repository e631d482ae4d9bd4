"""SendGrid Event Webhook: a JSON array of event objects (a single object is accepted too).

bounce -> bounce (status and reason as given; SendGrid's `type: blocked` is its own
classification of a block, the status decides ours), spamreport -> complaint,
unsubscribe -> organization unsubscribe, group_unsubscribe -> list unsubscribe (the list is
the ASM group id unless a custom `list` arg says otherwise), delivered -> delivered.
`dropped` (SendGrid refused to send to an address it already suppresses), `deferred` (it
will retry), and engagement events carry no new feedback and give no event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bounce_worker.domain.events import Event
from bounce_worker.parsers._common import ParseError, digest, first_reply_code, make_event, one_line
from bounce_worker.parsers.webhooks import metadata, require_mapping, require_str

_TYPES = {
    "bounce": "bounce",
    "spamreport": "complaint",
    "unsubscribe": "unsubscribe",
    "group_unsubscribe": "unsubscribe",
    "delivered": "delivered",
}
_IGNORED = frozenset(
    {"processed", "dropped", "deferred", "open", "click", "group_resubscribe", "machine_opened"}
)


def parse(payload: object) -> list[Event]:
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        raise ParseError("SendGrid payload is an empty array")
    events: list[Event] = []
    for n, item in enumerate(items):
        data = require_mapping(item, f"SendGrid event #{n}")
        kind = require_str(data, "event", f"SendGrid event #{n}").lower()
        if kind in _IGNORED:
            continue
        if kind not in _TYPES:
            raise ParseError(f"SendGrid event #{n}: unknown event type {kind[:40]!r}")
        events.append(_event(data, kind, n))
    return events


def _event(data: Mapping[str, Any], kind: str, n: int) -> Event:
    org, lst = metadata(data)
    if kind == "group_unsubscribe" and not lst and data.get("asm_group_id") is not None:
        lst = f"asm-group-{data['asm_group_id']}"
    reason = data.get("reason") or data.get("response")
    event_id = data.get("sg_event_id") or digest(repr(sorted(data.items())))
    return make_event(
        event_id=f"sendgrid:{event_id}",
        type=_TYPES[kind],
        channel="email",
        recipient=require_str(data, "email", f"SendGrid event #{n}"),
        occurred_at=data.get("timestamp"),
        organization=org,
        list=lst,
        status=str(data["status"]) if kind == "bounce" and data.get("status") else None,
        smtp_code=first_reply_code(reason)
        if kind == "bounce" and isinstance(reason, str)
        else None,
        diagnostic=one_line(reason) if isinstance(reason, str) else None,
        feedback_type="abuse" if kind == "spamreport" else None,
        source="sendgrid",
    )
