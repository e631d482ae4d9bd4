"""SMS gateways -> Events: delivery reports and inbound opt-out / opt-in replies.

One module per gateway (twilio, vonage, infobip, smpp), each `parse(payload, ctx)`. The
delivery report's error code travels as the event's `gateway_code` (`twilio:30005`) and is
classified by that gateway's documented table (domain/sms_codes), never by an SMTP status.

The organization (and list) of an SMS event come from the sending number, through the
operator's map (`BOUNCE_WORKER_SMS_NUMBERS`): a STOP is an unsubscribe from whoever owns
the number it was sent to. A STOP or START to a number nobody owns cannot be attributed and
is a ParseError (dead-lettered: visible, replayable once the map names the number).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bounce_worker.domain.addresses import InvalidAddress, normalize_phone
from bounce_worker.domain.events import Event
from bounce_worker.parsers._common import NotFeedback, ParseError

GATEWAYS = ("twilio", "vonage", "infobip", "smpp")


@dataclass(frozen=True, slots=True)
class Owner:
    organization: str
    list: str | None = None


@dataclass(frozen=True, slots=True)
class SmsContext:
    received_at: datetime  # when our server received the request (gateways omit times)
    numbers: Mapping[str, Owner] = field(default_factory=dict)  # sending number -> owner

    def owner(self, sender: str | None) -> Owner | None:
        if not sender:
            return None
        return self.numbers.get(number_key(sender))


def number_key(raw: str) -> str:
    """A sending number as the map keys it: E.164 for phone numbers (Vonage and Infobip
    send them without '+'), the text itself for alphanumeric sender ids and short codes."""
    text = raw.strip()
    digits = text.lstrip("+")
    if digits.isdigit() and len(digits) > 6:
        try:
            return normalize_phone("+" + digits)
        except InvalidAddress:
            return text
    return text.casefold()


def parse_sms(gateway: str, payload: object, ctx: SmsContext) -> list[Event]:
    parser = _parser(gateway)
    try:
        return parser(payload, ctx)
    except ParseError:
        raise
    except RecursionError:
        raise ParseError(f"{gateway} payload nested too deeply") from None
    except Exception as exc:  # any malformed shape ends as a dead-letter reason
        raise ParseError(
            f"malformed {gateway} payload: {type(exc).__name__}: {str(exc)[:120]}"
        ) from None


def _parser(gateway: str) -> Callable[[object, SmsContext], list[Event]]:
    from bounce_worker.parsers.sms import infobip, smpp, twilio, vonage

    parsers = {
        "twilio": twilio.parse,
        "vonage": vonage.parse,
        "infobip": infobip.parse,
        "smpp": smpp.parse,
    }
    if not isinstance(gateway, str) or gateway not in parsers:
        raise ParseError(
            f"unknown SMS gateway {str(gateway)[:40]!r} (expected one of {', '.join(GATEWAYS)})"
        )
    return parsers[gateway]


__all__ = ["GATEWAYS", "NotFeedback", "Owner", "SmsContext", "number_key", "parse_sms"]
