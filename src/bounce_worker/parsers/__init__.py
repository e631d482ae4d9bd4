"""Raw feedback in: DSNs, MTA text bounces, ARF, unsubscribes and ESP webhooks -> Events.

Public interface (other code calls exactly this):

* `parse_message(raw, received_at=..., limits=...)`: any raw mail,
  parsed under `limits.MailLimits` (time and memory linear in its size, see limits.py).
* `parse_webhook(provider, payload)`: "ses", "sendgrid", "mailgun", "postmark".
* `parse_one_click(body, recipient=..., organization=..., list_id=..., received_at=...)`.
* `split_mbox(data)`: mbox file -> raw messages.

Every failure is a `ParseError` whose message is a one-line dead-letter reason; an
auto-reply is a `NotFeedback` (a ParseError the caller records as ignored). Nothing else
escapes, whatever the bytes.
"""

from __future__ import annotations

import json
from datetime import datetime

from bounce_worker import limits as caps
from bounce_worker.domain.events import Event
from bounce_worker.parsers import mime
from bounce_worker.parsers._common import NotFeedback, ParseError
from bounce_worker.parsers.arf import is_arf, parse_arf
from bounce_worker.parsers.autoreply import is_auto_reply
from bounce_worker.parsers.context import MailContext
from bounce_worker.parsers.dsn import parse_dsn, parse_inline_dsn
from bounce_worker.parsers.mbox import split_mbox
from bounce_worker.parsers.mime import Part
from bounce_worker.parsers.mta_formats import (
    BOUNCE_SENDER,
    BOUNCE_SUBJECT,
    BOUNCE_TEXT,
    STRONG_BOUNCE_SUBJECT,
    family,
    filter_gateway,
)
from bounce_worker.parsers.mta_text import parse_text_bounce
from bounce_worker.parsers.unsubscribe import (
    is_unsubscribe_mail,
    parse_one_click,
    parse_unsubscribe_mail,
)
from bounce_worker.parsers.webhooks import parse_webhook

__all__ = [
    "NotFeedback",
    "ParseError",
    "parse_message",
    "parse_one_click",
    "parse_webhook",
    "split_mbox",
]


def parse_message(
    raw: bytes,
    *,
    received_at: datetime,
    limits: caps.MailLimits = caps.DEFAULT,
) -> list[Event]:
    if not isinstance(raw, bytes | bytearray):
        raise ParseError(f"raw mail must be bytes, got {type(raw).__name__}")
    if len(raw) > limits.max_bytes:
        raise ParseError(caps.oversize_reason(len(raw), caps.digest(raw), limits.max_bytes))
    if not raw or raw.isspace():  # (no strip(): that would copy the mail)
        raise ParseError("empty message")
    try:
        with caps.applied(limits):
            return _parse(bytes(raw), received_at)
    except ParseError:
        raise
    except RecursionError:
        raise ParseError("MIME structure nested too deeply") from None
    except Exception as exc:  # any bytes must end as a reason, never a crash
        raise ParseError(f"unparseable message: {type(exc).__name__}: {str(exc)[:120]}") from None


def _parse(raw: bytes, received_at: datetime) -> list[Event]:
    msg = mime.load(raw)
    if not msg.keys():
        raise ParseError("no mail headers (not an RFC 5322 message)")
    ctx = MailContext(raw, msg, received_at, original=mime.original_headers(msg))
    ctx.source, gateway = _source(msg)
    if gateway:
        ctx.note = f"reported by the filtering gateway {gateway}"

    if is_arf(msg):
        ctx.source = "arf"
        return parse_arf(ctx)
    events = parse_dsn(ctx)
    if events:
        return events
    if mime.find_part(msg, "message/delivery-status", "message/global-delivery-status") is None:
        if is_unsubscribe_mail(msg):
            ctx.source = "mailto-unsubscribe"
            return parse_unsubscribe_mail(ctx)
        # Exim and Google stamp their bounces "Auto-Submitted: auto-replied" too: a mail
        # from a mailer daemon, or titled as a delivery failure, is never a vacation notice.
        if not _bounce_envelope(msg) and is_auto_reply(msg):
            raise NotFeedback(
                "auto-reply, vacation notice or challenge/response request, not a bounce"
            )
    text = ctx.text
    ses = _ses_notification(text)
    if ses is not None:
        return ses
    events = parse_inline_dsn(ctx)
    if events:
        return events
    if not _looks_like_bounce(msg, text):
        raise ParseError(
            "not a bounce, complaint or unsubscribe mail "
            f"(subject {mime.header(msg, 'Subject')[:60]!r})"
        )
    events = parse_text_bounce(ctx, text)
    if not events:
        raise ParseError("bounce names no failed recipient")
    return events


def _source(msg: Part) -> tuple[str, str | None]:
    """(family name, filtering gateway or None) from the headers and the text's start.

    Only the start of the first text/plain part is read, undecoded: enough to name the
    family, and cheap (no charset to decode, no HTML to strip).
    """
    plain = next((p for p in mime.walk_own(msg) if p.ctype == "text/plain"), None)
    text = plain.head_of_body(1500).decode("latin-1") if plain is not None else ""
    # Raw values: an RFC 2047-encoded subject names no MTA anyway.
    signature = "\n".join(
        [
            msg.get("From") or "",
            msg.get("Subject") or "",
            msg.get("X-Mailer") or "",
            msg.get("X-NAI-Header") or "",  # McAfee gateways sign their mail here
            *msg.get_all("Received")[:3],
            text,
        ]
    ).lower()
    is_dsn = mime.find_part(msg, "message/delivery-status") is not None
    return family(signature) or ("dsn" if is_dsn else "mta"), filter_gateway(signature)


def _bounce_envelope(msg: Part) -> bool:
    """From a mailer daemon, titled as a delivery failure, or naming failed recipients."""
    return bool(
        BOUNCE_SENDER.search(mime.header(msg, "From"))
        or BOUNCE_SUBJECT.search(mime.header(msg, "Subject"))
        or msg.get("X-Failed-Recipients")
    )


def _looks_like_bounce(msg: Part, text: str) -> bool:
    """Any sign of a delivery failure report; without one, no address is read as failed."""
    sender = mime.header(msg, "From") + " " + mime.header(msg, "Return-Path")
    return bool(
        BOUNCE_SENDER.search(sender)
        or STRONG_BOUNCE_SUBJECT.search(mime.header(msg, "Subject"))
        or BOUNCE_TEXT.search(text[:5000])
        or msg.get("X-Failed-Recipients")
    )


def _ses_notification(text: str) -> list[Event] | None:
    """Amazon SES notifications delivered by e-mail (an SNS e-mail subscription): JSON body."""
    start = text.find("{")
    if start < 0 or start > 200 or ("notificationType" not in text and "eventType" not in text):
        return None
    try:
        # Relays that enforce the 998-character line limit break the one-line JSON with
        # "!", a newline and a space; undo that before decoding.
        payload, _ = json.JSONDecoder().raw_decode(text[start:].replace("!\n ", ""))
    except ValueError:
        return None
    return parse_webhook("ses", payload)
