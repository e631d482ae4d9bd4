"""RFC 5965 Abuse Reporting Format: feedback-loop complaint reports -> `complaint` events.

The report's machine-readable part (message/feedback-report) gives the Feedback-Type and,
when the provider does not redact it, Original-Rcpt-To (one per recipient). Providers that
redact it still return the original message, whose To is the complaining recipient.
Feedback type `opt-out` (draft-ietf-marf) is the recipient's unsubscribe, not a complaint.
"""

from __future__ import annotations

from bounce_worker.domain.events import Event
from bounce_worker.parsers import mime
from bounce_worker.parsers._common import ParseError, parse_date
from bounce_worker.parsers.context import MailContext
from bounce_worker.parsers.mime import Part

FEEDBACK_TYPES = ("message/feedback-report",)
UNSUBSCRIBE_TYPES = frozenset({"opt-out", "unsubscribe"})


def is_arf(msg: Part) -> bool:
    return mime.find_part(msg, *FEEDBACK_TYPES) is not None


def parse_arf(ctx: MailContext) -> list[Event]:
    part = mime.find_part(ctx.msg, *FEEDBACK_TYPES)
    if part is None:
        raise ParseError("ARF report without a message/feedback-report part")
    fields = report_fields(part)
    feedback_type = (_first(fields, "feedback-type") or "").strip().lower()
    if not feedback_type:
        raise ParseError("ARF report without Feedback-Type")
    recipients = [a for v in _all(fields, "original-rcpt-to") for a in mime.addresses(v)]
    if not recipients:
        recipients = [a for v in _all(fields, "removal-recipient") for a in mime.addresses(v)]
    if not recipients and ctx.original is not None:
        recipients = mime.addresses(mime.header(ctx.original, "To"))
    if not recipients:
        raise ParseError(
            f"ARF {feedback_type} report names no recipient "
            "(no Original-Rcpt-To and no To in the original message)"
        )
    when = parse_date(_first(fields, "arrival-date") or _first(fields, "received-date"))
    unsubscribe = feedback_type in UNSUBSCRIBE_TYPES
    seen: list[str] = []
    for address in recipients:
        if address.lower() not in (s.lower() for s in seen):
            seen.append(address)
    return [
        ctx.event(
            i,
            type="unsubscribe" if unsubscribe else "complaint",
            recipient=address,
            feedback_type=None if unsubscribe else feedback_type[:64],
            occurred_at=when,
            diagnostic=f"ARF feedback-type {feedback_type}"
            + (f" from {_first(fields, 'user-agent')}" if _first(fields, "user-agent") else ""),
        )
        for i, address in enumerate(seen, 1)
    ]


def report_fields(part: Part) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for line in part.text().splitlines():
        if line[:1] in " \t" and fields:
            fields[-1] = (fields[-1][0], f"{fields[-1][1]} {line.strip()}")
        elif ":" in line:
            name, _, value = line.partition(":")
            fields.append((name.strip().lower(), value.strip()))
    return fields


def _all(fields: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in fields if k == name]


def _first(fields: list[tuple[str, str]], name: str) -> str | None:
    values = _all(fields, name)
    return values[0] if values else None
