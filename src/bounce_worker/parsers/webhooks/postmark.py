"""Postmark webhooks: Bounce, SpamComplaint, Delivery and SubscriptionChange records.

A Bounce record's `Type` says what Postmark made of it; where `Details` carries no SMTP
status we give the type's usual one so classification agrees with Postmark
(HardBounce/BadEmailAddress -> 5.1.1, SoftBounce/Transient/DnsError -> 4.0.0,
Blocked/DMARCPolicy/SpamNotification/VirusNotification -> 5.7.1). AutoResponder and the
administrative types are not bounces and give no event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bounce_worker.domain.events import Event
from bounce_worker.parsers._common import (
    ParseError,
    digest,
    first_reply_code,
    first_status,
    make_event,
    one_line,
)
from bounce_worker.parsers.webhooks import metadata, require_mapping, require_str

_BOUNCE_STATUS = {
    "hardbounce": "5.1.1",
    "bademailaddress": "5.1.1",
    "softbounce": "4.0.0",
    "transient": "4.0.0",
    "dnserror": "4.4.3",
    "blocked": "5.7.1",
    "dmarcpolicy": "5.7.1",
    "spamnotification": "5.7.1",
    "virusnotification": "5.7.1",
    "unknown": None,
}


def parse(payload: object) -> list[Event]:
    data = require_mapping(payload, "Postmark payload")
    record = require_str(data, "RecordType", "Postmark payload").lower()
    org, lst = metadata(data.get("Metadata"))
    common: dict[str, Any] = {
        "channel": "email",
        "organization": org,
        "list": lst,
        "source": "postmark",
    }
    base = (
        f"postmark:{data.get('ID') or data.get('MessageID') or digest(repr(sorted(data.items())))}"
    )
    if record == "bounce":
        btype = str(data.get("Type") or "").lower()
        if not btype:  # without its Type a bounce cannot be classified: never drop it silently
            raise ParseError("Postmark Bounce record lacks 'Type'")
        if btype == "spamcomplaint":
            return [_complaint(data, base, common)]
        if btype not in _BOUNCE_STATUS:
            return []  # AutoResponder, Subscribe, AddressChange, ChallengeVerification, ...
        details = data.get("Details") if isinstance(data.get("Details"), str) else None
        diagnostic = details or data.get("Description")
        return [
            make_event(
                event_id=f"{base}:bounce",
                type="bounce",
                recipient=require_str(data, "Email", "Postmark bounce"),
                occurred_at=data.get("BouncedAt"),
                status=first_status(details) or _BOUNCE_STATUS[btype],
                smtp_code=first_reply_code(details),
                diagnostic=one_line(
                    f"{data.get('Name') or btype}: {diagnostic}" if diagnostic else None
                ),
                **common,
            )
        ]
    if record == "spamcomplaint":
        return [_complaint(data, base, common)]
    if record == "delivery":
        return [
            make_event(
                event_id=f"{base}:delivery",
                type="delivered",
                recipient=require_str(data, "Recipient", "Postmark delivery"),
                occurred_at=data.get("DeliveredAt"),
                diagnostic=one_line(data.get("Details")),
                **common,
            )
        ]
    if record == "subscriptionchange":
        # Only a recipient's own unsubscribe is feedback; suppressions Postmark made because
        # of a bounce or complaint were already reported as such.
        if not data.get("SuppressSending") or data.get("SuppressionReason") != "ManualSuppression":
            return []
        return [
            make_event(
                event_id=f"{base}:{digest(str(data.get('ChangedAt')))}:unsubscribe",
                type="unsubscribe",
                recipient=require_str(data, "Recipient", "Postmark subscription change"),
                occurred_at=data.get("ChangedAt"),
                diagnostic="ManualSuppression",
                **common,
            )
        ]
    if record in {"open", "click"}:
        return []
    raise ParseError(f"Postmark RecordType {record[:40]!r} is not a known record")


def _complaint(data: Mapping[str, Any], base: str, common: dict[str, Any]) -> Event:
    return make_event(
        event_id=f"{base}:complaint",
        type="complaint",
        recipient=require_str(data, "Email", "Postmark spam complaint"),
        occurred_at=data.get("BouncedAt"),
        feedback_type="abuse",
        diagnostic=one_line(data.get("Description")),
        **common,
    )
