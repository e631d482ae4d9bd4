"""Unsubscribe requests -> `unsubscribe` events.

Two ways in:

* RFC 8058 one-click: the mail client POSTs `List-Unsubscribe=One-Click` to the URL of the
  List-Unsubscribe header. The URL is ours and opaque, so whoever serves it decodes its token
  and passes `recipient` / `organization` / `list_id`. Accepted bodies: form-urlencoded or
  multipart/form-data, which must contain `List-Unsubscribe=One-Click` (RFC 8058 section 3.1).
  When the caller passes no recipient, the form fields `recipient` (or `email`),
  `organization` (or `org`) and `list` (or `list_id`) are read from the body as well.
* mailto (RFC 2369): a mail to the List-Unsubscribe mailto address. Recognised by its Subject
  (`unsubscribe`, what the mailto URL prescribes), a first body line `unsubscribe`, or
  Apple Mail's `X-Apple-Unsubscribe: true`. The recipient is the mail's sender (From);
  the list comes from List-Id when present; no header names the organization (SPEC 7: the
  VERP token does).
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import parse_qsl

from bounce_worker.domain.events import Event
from bounce_worker.parsers import mime
from bounce_worker.parsers._common import ParseError, digest, make_event
from bounce_worker.parsers.context import MailContext, list_id_of
from bounce_worker.parsers.mime import Part

ONE_CLICK = ("list-unsubscribe", "one-click")
_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)?(?:unsubscribe|remove me|opt[- ]?out|"
    r"abbestellen|d[ée]sinscription|d[ée]sabonner)\b",
    re.I,
)
_FORM_PART = re.compile(
    r'content-disposition:\s*form-data;\s*name="?([^";\r\n]+)"?[^\r\n]*\r?\n\r?\n(.*?)\r?\n--',
    re.I | re.S,
)


def parse_one_click(
    body: bytes | str,
    *,
    recipient: str | None = None,
    organization: str | None = None,
    list_id: str | None = None,
    received_at: datetime,
) -> list[Event]:
    if not isinstance(body, bytes | bytearray | str):
        raise ParseError(f"one-click body must be bytes or text, got {type(body).__name__}")
    text = bytes(body).decode("utf-8", "replace") if not isinstance(body, str) else body
    try:
        fields = _form_fields(text)
    except ValueError as exc:  # parse_qsl refuses some inputs (e.g. too many fields)
        raise ParseError(f"one-click body is not a form: {str(exc)[:80]}") from None
    if fields.get("list-unsubscribe", "").strip().lower() != ONE_CLICK[1]:
        raise ParseError("one-click body lacks List-Unsubscribe=One-Click (RFC 8058)")
    recipient = recipient or fields.get("recipient") or fields.get("email")
    organization = organization or fields.get("organization") or fields.get("org")
    list_id = list_id or fields.get("list") or fields.get("list_id")
    if not recipient:
        raise ParseError("one-click unsubscribe names no recipient")
    return [
        make_event(
            event_id=f"one-click:{digest(text, recipient.lower(), organization, list_id)}:1",
            type="unsubscribe",
            channel="email",
            recipient=recipient,
            organization=organization,
            list=list_id,
            occurred_at=received_at,
            source="one-click",
            diagnostic="RFC 8058 one-click unsubscribe",
        )
    ]


def _form_fields(text: str) -> dict[str, str]:
    if "form-data" in text.lower():
        return {m.group(1).strip().lower(): m.group(2).strip() for m in _FORM_PART.finditer(text)}
    return {k.strip().lower(): v for k, v in parse_qsl(text.strip(), keep_blank_values=True)}


def is_unsubscribe_mail(msg: Part) -> bool:
    if mime.header(msg, "X-Apple-Unsubscribe").lower() == "true":
        return True
    if _SUBJECT.search(mime.header(msg, "Subject")):
        return True
    first_line = next((ln for ln in mime.human_text(msg, 2000).splitlines() if ln.strip()), "")
    return first_line.strip().lower() == "unsubscribe"


def parse_unsubscribe_mail(ctx: MailContext) -> list[Event]:
    senders = mime.addresses(mime.header(ctx.msg, "From")) or mime.addresses(
        mime.header(ctx.msg, "Sender")
    )
    if not senders:
        raise ParseError("unsubscribe mail without a sender address")
    return [
        ctx.event(
            1,
            type="unsubscribe",
            recipient=senders[0],
            organization=None,  # from the VERP token only (SPEC 7)
            list=list_id_of(mime.header(ctx.msg, "List-Id")),
            diagnostic="mailto unsubscribe: "
            + (mime.header(ctx.msg, "Subject") or "(no subject)")[:200],
        )
    ]
