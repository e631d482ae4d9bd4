"""Normalized events (SPEC section 4) and their validation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from bounce_worker.domain.addresses import InvalidAddress, normalize_recipient

MAX_FIELD_LENGTH = 10_000  # a diagnostic longer than this is truncated, not rejected
MAX_ID_LENGTH = 255


class InvalidEvent(ValueError):
    """An event that cannot be applied; the message is the dead-letter reason."""


class EventType(StrEnum):
    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    UNSUBSCRIBE = "unsubscribe"
    DELIVERED = "delivered"
    OPT_IN = "opt_in"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


@dataclass(frozen=True, slots=True)
class Event:
    event_id: str
    type: EventType
    channel: Channel
    recipient: str
    occurred_at: datetime
    organization: str | None = None
    list: str | None = None
    status: str | None = None
    smtp_code: int | None = None
    diagnostic: str | None = None
    source: str | None = None
    feedback_type: str | None = None  # ARF feedback type of a complaint (abuse, fraud, ...)
    # An SMS gateway's own error code, `gateway:code` (`twilio:30005`, `smpp:1`): classified
    # by that gateway's documented code table (domain/sms_codes), not as an SMTP status.
    gateway_code: str | None = None
    # The sending platform's id of the person (contact) the recipient belongs to, within the
    # organization: it links this address to the contact's others, on every channel
    # (bounce_worker.contacts; the cross-channel rule).
    contact_id: str | None = None
    # SPEC 7: set by the entry point that checked where the event came from. Normalized
    # JSON from the operator's CLI or an authenticated producer is verified; a raw mail is
    # verified only by its VERP token (or a trusted source). Unverified: recorded only.
    verified: bool = True

    @classmethod
    def from_dict(cls, data: Any) -> Event:
        """Validate a decoded JSON object; raises InvalidEvent naming the first problem."""
        if not isinstance(data, Mapping):
            raise InvalidEvent(f"event must be a JSON object, got {type(data).__name__}")
        unknown = set(data) - _FIELDS
        if unknown:
            raise InvalidEvent(f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
        event_type = _enum(EventType, data, "type")
        channel = _enum(Channel, data, "channel", default=Channel.EMAIL)
        try:
            recipient = normalize_recipient(_text(data, "recipient", required=True), channel)
        except InvalidAddress as exc:
            raise InvalidEvent(str(exc)) from None
        return cls(
            event_id=_text(data, "event_id", required=True, limit=MAX_ID_LENGTH),
            type=event_type,
            channel=channel,
            recipient=recipient,
            occurred_at=parse_instant(data.get("occurred_at"), "occurred_at"),
            organization=_text(data, "organization", limit=MAX_ID_LENGTH),
            list=_text(data, "list", limit=MAX_ID_LENGTH),
            status=_status(data.get("status")),
            smtp_code=_smtp_code(data.get("smtp_code")),
            diagnostic=_text(data, "diagnostic", truncate=True),
            source=_text(data, "source", limit=MAX_ID_LENGTH),
            feedback_type=_text(data, "feedback_type", limit=64),
            gateway_code=_gateway_code(data.get("gateway_code")),
            contact_id=_text(data, "contact_id", limit=MAX_ID_LENGTH),
            verified=_flag(data, "verified", default=True),
        )

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies every field, a third of the hot path's time.
        out = {name: getattr(self, name) for name in _FIELD_ORDER}
        out["type"] = str(self.type)
        out["channel"] = str(self.channel)
        out["occurred_at"] = format_instant(self.occurred_at)
        return out


_FIELD_ORDER = tuple(Event.__dataclass_fields__)
_FIELDS = frozenset(_FIELD_ORDER)


def parse_instant(value: Any, name: str = "time") -> datetime:
    """ISO 8601 with an offset (or 'Z'), or a Unix timestamp; always returns aware UTC."""
    if isinstance(value, bool) or value is None or value == "":
        raise InvalidEvent(f"{name} is required (ISO 8601 with a timezone)")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise InvalidEvent(f"{name} is not a finite timestamp")
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise InvalidEvent(f"{name} timestamp out of range: {value!r}") from None
    if not isinstance(value, str):
        raise InvalidEvent(f"{name} must be an ISO 8601 string, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidEvent(f"{name} is not ISO 8601: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise InvalidEvent(f"{name} has no timezone: {value[:40]!r} (add Z or +00:00)")
    return parsed.astimezone(UTC)


def format_instant(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _enum(kind: type[StrEnum], data: Mapping[str, Any], name: str, default: Any = None) -> Any:
    value = data.get(name, default)
    if value is None:
        raise InvalidEvent(f"{name} is required")
    try:
        return kind(value)
    except (ValueError, TypeError):
        allowed = ", ".join(m.value for m in kind)  # type: ignore[attr-defined]
        raise InvalidEvent(f"{name} must be one of {allowed}; got {str(value)[:40]!r}") from None


def _text(
    data: Mapping[str, Any],
    name: str,
    *,
    required: bool = False,
    limit: int = MAX_FIELD_LENGTH,
    truncate: bool = False,
) -> Any:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise InvalidEvent(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise InvalidEvent(f"{name} must be a string, got {type(value).__name__}")
    if "\x00" in value:
        raise InvalidEvent(f"{name} contains a NUL character")
    if not value.isascii() and not _is_unicode(value):
        raise InvalidEvent(f"{name} contains a lone surrogate (not valid Unicode text)")
    if len(value) > limit:
        if not truncate:
            raise InvalidEvent(f"{name} is longer than {limit} characters")
        value = value[:limit]
    return value


def _flag(data: Mapping[str, Any], name: str, *, default: bool) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise InvalidEvent(f"{name} must be true or false, got {str(value)[:20]!r}")
    return value


def _is_unicode(value: str) -> bool:
    """False for text holding lone surrogates (JSON "\\ud800"): no database can store it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _status(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidEvent(f"status must be a string like '5.1.1', got {type(value).__name__}")
    parts = value.strip().split(".")
    if (
        len(parts) != 3
        or parts[0] not in {"2", "4", "5"}
        or not all(p.isdigit() and len(p) <= 3 for p in parts[1:])
    ):
        raise InvalidEvent(f"status is not an enhanced status code (RFC 3463): {value[:20]!r}")
    return f"{parts[0]}.{int(parts[1])}.{int(parts[2])}"


def _gateway_code(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidEvent(f"gateway_code must be a string, got {type(value).__name__}")
    gateway, _, code = value.strip().partition(":")
    if not gateway or not code or len(value) > 64 or not value.isascii() or " " in value:
        raise InvalidEvent(f"gateway_code must look like 'twilio:30005', got {value[:40]!r}")
    return f"{gateway.lower()}:{code}"


def _smtp_code(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 200 <= value <= 599:
        raise InvalidEvent(f"smtp_code must be a reply code from 200 to 599, got {value!r}"[:120])
    return value
