"""The two SMS event shapes every gateway module builds: a delivery report and a reply."""

from __future__ import annotations

from datetime import datetime

from bounce_worker.domain.classify import Category
from bounce_worker.domain.events import Event
from bounce_worker.domain.sms_codes import lookup, normalize_code
from bounce_worker.parsers._common import NotFeedback, ParseError, make_event, one_line
from bounce_worker.parsers.sms import SmsContext
from bounce_worker.parsers.sms.keywords import Keyword, keyword


def phone(raw: object, what: str) -> str:
    """Gateways write numbers with or without '+'; events carry E.164."""
    if not isinstance(raw, str | int) or isinstance(raw, bool) or not str(raw).strip():
        raise ParseError(f"{what} is missing")
    text = str(raw).strip()
    return text if text.startswith("+") else "+" + text


def failed_report(
    gateway: str,
    *,
    event_id: str,
    recipient: object,
    code: object,
    status: str,
    occurred_at: datetime,
    ctx: SmsContext,
    sender: str | None,
    text: str | None = None,
) -> Event:
    """A report that the message did not arrive: classified by the gateway's code table."""
    code_text = str(code).strip() if code not in (None, "") else "none"
    gateway_code = f"{gateway}:{normalize_code(gateway, code_text)}"
    row = lookup(gateway_code)
    meaning = row.description if row else "code not in the table"
    owner = ctx.owner(sender)
    if owner is None and row is not None and row.outcome.category is Category.UNSUBSCRIBE:
        raise ParseError(
            f"{gateway} opt-out code {code_text} from {sender or 'an unnamed number'} cannot be "
            "attributed: the number is not in BOUNCE_WORKER_SMS_NUMBERS"
        )
    return make_event(
        event_id=event_id,
        type="bounce",
        channel="sms",
        recipient=phone(recipient, f"{gateway} report's recipient number"),
        occurred_at=occurred_at,
        organization=owner.organization if owner else None,
        gateway_code=gateway_code,
        diagnostic=one_line(
            f"{gateway} {status} {code_text}: {meaning}" + (f" ({text})" * bool(text))
        ),
        source=gateway,
    )


def delivered_report(
    gateway: str,
    *,
    event_id: str,
    recipient: object,
    occurred_at: datetime,
    ctx: SmsContext,
    sender: str | None,
) -> Event:
    owner = ctx.owner(sender)
    return make_event(
        event_id=event_id,
        type="delivered",
        channel="sms",
        recipient=phone(recipient, f"{gateway} report's recipient number"),
        occurred_at=occurred_at,
        organization=owner.organization if owner else None,
        source=gateway,
    )


def reply(
    gateway: str,
    *,
    event_id: str,
    subscriber: object,
    our_number: object,
    text: str | None,
    occurred_at: datetime,
    ctx: SmsContext,
    forced: Keyword | None = None,
) -> Event:
    """An inbound message: STOP & co. unsubscribe, START / UNSTOP opt back in, anything else
    is not feedback. `forced` is the gateway's own opt-out / opt-in verdict, when it sends one."""
    kind = forced or keyword(text)
    if kind is None:
        raise NotFeedback(f"{gateway} inbound message is not an opt-out or opt-in keyword")
    number = str(our_number).strip() if our_number not in (None, "") else ""
    owner = ctx.owner(number)
    if owner is None:
        raise ParseError(
            f"{gateway} {kind} reply to {number or 'an unnamed number'} cannot be attributed: "
            "the number is not in BOUNCE_WORKER_SMS_NUMBERS"
        )
    return make_event(
        event_id=event_id,
        type="unsubscribe" if kind is Keyword.OPT_OUT else "opt_in",
        channel="sms",
        recipient=phone(subscriber, f"{gateway} inbound sender number"),
        occurred_at=occurred_at,
        organization=owner.organization,
        list=owner.list,
        diagnostic=one_line(f"{gateway} reply {text!r} to {number}"[:500]),
        source=gateway,
    )
