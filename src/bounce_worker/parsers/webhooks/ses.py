"""Amazon SES notifications (Bounce / Complaint / Delivery), raw or inside an SNS envelope.

Both SES shapes are accepted: notifications (`notificationType`) and event publishing
(`eventType`). SNS wraps either as a JSON string in `Message`; the SNS envelope's signature
is checked by whoever receives the HTTP request, not here (parsers are pure).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bounce_worker.domain.events import Event
from bounce_worker.parsers._common import ParseError, digest, make_event, one_line
from bounce_worker.parsers.context import list_id_of
from bounce_worker.parsers.webhooks import metadata, require_mapping, require_str

# bounceType/bounceSubType -> status when SES gives the recipient none (SES docs, "Bounce types").
_SUBTYPE_STATUS = {
    ("permanent", "general"): "5.0.0",
    ("permanent", "noemail"): "5.1.1",
    ("permanent", "suppressed"): "5.1.1",
    ("permanent", "onaccountsuppressionlist"): "5.1.1",
    ("transient", "mailboxfull"): "4.2.2",
    ("transient", "messagetoolarge"): "5.3.4",
    ("transient", "contentrejected"): "5.7.1",
    ("transient", "attachmentrejected"): "5.7.1",
}


def parse(payload: object) -> list[Event]:
    data = require_mapping(payload, "SES payload")
    if isinstance(data.get("Message"), str):  # SNS envelope
        if data.get("Type") == "SubscriptionConfirmation":
            raise ParseError("SNS SubscriptionConfirmation, not an SES notification")
        try:
            data = require_mapping(json.loads(data["Message"]), "SNS Message")
        except ValueError:
            raise ParseError("SNS Message is not JSON") from None
    kind = str(data.get("notificationType") or data.get("eventType") or "").lower()
    mail = require_mapping(data.get("mail", {}), "SES mail")
    org, lst = _org_list(mail)
    common = {"channel": "email", "organization": org, "list": lst, "source": "ses"}
    if kind == "bounce":
        bounce = require_mapping(data.get("bounce"), "SES bounce")
        btype = str(bounce.get("bounceType", "")).lower()
        subtype = str(bounce.get("bounceSubType", "")).lower().replace(" ", "")
        base = bounce.get("feedbackId") or digest(json.dumps(data, sort_keys=True))
        default_status = _SUBTYPE_STATUS.get(
            (btype, subtype), "4.0.0" if btype == "transient" else None
        )
        return [
            make_event(
                event_id=f"ses:{base}:{i}",
                type="bounce",
                recipient=require_str(r, "emailAddress", "bouncedRecipient"),
                status=r.get("status") or default_status,
                diagnostic=one_line(_diag(r, btype, subtype)),
                occurred_at=bounce.get("timestamp") or mail.get("timestamp"),
                **common,
            )
            for i, r in enumerate(_recipients(bounce, "bouncedRecipients"), 1)
        ]
    if kind == "complaint":
        complaint = require_mapping(data.get("complaint"), "SES complaint")
        base = complaint.get("feedbackId") or digest(json.dumps(data, sort_keys=True))
        ftype = complaint.get("complaintFeedbackType") or "abuse"
        return [
            make_event(
                event_id=f"ses:{base}:{i}",
                type="complaint",
                recipient=require_str(r, "emailAddress", "complainedRecipient"),
                feedback_type=str(ftype).lower(),
                occurred_at=complaint.get("timestamp") or mail.get("timestamp"),
                diagnostic=complaint.get("complaintSubType"),
                **common,
            )
            for i, r in enumerate(_recipients(complaint, "complainedRecipients"), 1)
        ]
    if kind == "delivery":
        delivery = require_mapping(data.get("delivery"), "SES delivery")
        recipients = delivery.get("recipients")
        if not isinstance(recipients, list) or not recipients:
            raise ParseError("SES delivery lacks 'recipients'")
        base = digest("delivery", str(mail.get("messageId")), str(delivery.get("timestamp")))
        return [
            make_event(
                event_id=f"ses:{base}:{i}",
                type="delivered",
                recipient=str(r),
                occurred_at=delivery.get("timestamp") or mail.get("timestamp"),
                diagnostic=one_line(delivery.get("smtpResponse")),
                **common,
            )
            for i, r in enumerate(recipients, 1)
        ]
    if kind in {
        "send",
        "open",
        "click",
        "reject",
        "renderingfailure",
        "deliverydelay",
        "subscription",
    }:
        return []
    raise ParseError(
        f"SES notification type {kind or '(missing)'!r} is not Bounce, Complaint or Delivery"
    )


def _recipients(section: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = section.get(key)
    if not isinstance(value, list) or not value:
        raise ParseError(f"SES notification lacks {key!r}")
    return [require_mapping(r, key) for r in value]


def _diag(recipient: Mapping[str, Any], btype: str, subtype: str) -> str:
    code = recipient.get("diagnosticCode")
    if isinstance(code, str) and code.strip():
        kind, sep, rest = code.partition(";")
        return (rest if sep and kind.strip().isalpha() else code).strip()
    return f"SES {btype or 'unknown'} bounce ({subtype or 'no subtype'})"


def _org_list(mail: Mapping[str, Any]) -> tuple[str | None, str | None]:
    org, lst = metadata(mail.get("tags"))
    headers = mail.get("headers")
    if isinstance(headers, list):
        for h in headers:
            if isinstance(h, Mapping) and isinstance(h.get("value"), str):
                name = str(h.get("name", "")).lower()
                if name == "x-organization" and not org:
                    org = h["value"].strip() or None
                elif name == "list-id" and not lst:
                    lst = list_id_of(h["value"])
    return org, lst
