"""RFC 3464 delivery status notifications (multipart/report; report-type=delivery-status).

One event per recipient block whose Action is failed or delayed (a bounce) or delivered.
Status, Diagnostic-Code and Remote-MTA come from the machine-readable block; when the block
has no Diagnostic-Code (many MTAs leave it out), the recipient's paragraph of the
human-readable part is used instead, because classification needs the server's words.
"""

from __future__ import annotations

import re

from bounce_worker.domain.addresses import InvalidAddress, normalize_email
from bounce_worker.domain.events import Event
from bounce_worker.parsers import mime
from bounce_worker.parsers._common import (
    NotFeedback,
    check_recipients,
    clean_status,
    field_address,
    first_reply_code,
    first_status,
    one_line,
    parse_date,
)
from bounce_worker.parsers.context import MailContext
from bounce_worker.parsers.mime import Part
from bounce_worker.parsers.mta_text import Failure, failures_from_text, smtp_command

DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
# Action -> event type; relayed/expanded mean the message went on, which is no feedback.
# "expired" is no RFC 3464 action, but SendGrid's DSNs write it for a message given up after
# its retries (Sisimai's Lhost::SendGrid reads it so): a failure, the delivery time expired.
_ACTIONS = {"failed": "bounce", "delayed": "bounce", "delivered": "delivered", "expired": "bounce"}
_PASSED_ON = frozenset({"relayed", "expanded"})


def parse_dsn(ctx: MailContext) -> list[Event]:
    part = mime.find_part(ctx.msg, *DSN_TYPES) or _nested_report(ctx)
    if part is None:
        return []
    return events_from_blocks(ctx, status_blocks(part))


def _nested_report(ctx: MailContext) -> Part | None:
    """A DSN forwarded as an attachment (message/rfc822 holding a multipart/report, e.g. a
    bounce mailbox that forwards what it receives, or a gateway wrapping the report it got):
    its delivery-status part is the report. The returned original is then the one inside.
    Only an attached message that declares itself a delivery report is opened (RFC 6522
    report-type=delivery-status): an ordinary returned message is never read as a report."""
    for part in ctx.msg.walk():
        if part.ctype != "message/rfc822" or not part.children:
            continue
        ctype = (part.children[0].get("Content-Type") or "").lower()
        if "multipart/report" not in ctype or "delivery-status" not in ctype:
            continue
        inner = mime.load(part.decoded())
        found = mime.find_part(inner, *DSN_TYPES)
        if found is not None:
            ctx.original = mime.original_headers(inner)
            return found
    return None


def parse_inline_dsn(ctx: MailContext) -> list[Event]:
    """DSN fields written into the text body instead of a delivery-status part (Sun/Oracle
    Messaging Server, some gateways): read them the same way, from the first Action or
    Final-Recipient field on."""
    low = ctx.text.lower()
    starts = [i for i in (low.find("\nfinal-recipient:"), low.find("\naction:")) if i >= 0]
    if not starts:
        return []
    begin = low.rfind("\n\n", 0, min(starts)) + 1
    blocks = [b for b in parse_blocks(ctx.text[begin:]) if any(n in b for n in _RECIPIENT_FIELDS)]
    return events_from_blocks(ctx, [{}, *blocks]) if blocks else []


def events_from_blocks(ctx: MailContext, blocks: list[dict[str, str]]) -> list[Event]:
    """Events of DSN field blocks: the per-message block first, then one per recipient."""
    if not blocks:
        return []
    per_message, per_recipient = blocks[0], blocks[1:]
    if any(name in per_message for name in _RECIPIENT_FIELDS):
        per_message, per_recipient = {}, blocks  # per-message block missing
    arrival = parse_date(per_message.get("arrival-date"))
    text_failures: dict[str, Failure] | None = None  # read from the prose only if needed

    check_recipients(
        len(
            {
                b.get("final-recipient")
                or b.get("original-recipient")
                or b.get("x-actual-recipient")
                for b in per_recipient
            }
        )
    )
    events: list[Event] = []
    passed_on = 0
    for block in per_recipient:
        recipient = recipient_of(block)
        if not recipient:
            continue
        action = (block.get("action") or "failed").strip().lower().split()[0:1]
        event_type = _ACTIONS.get(action[0] if action else "failed")
        if event_type is None:
            passed_on += action[0] in _PASSED_ON
            continue
        # (Courier writes a connection failure as "X-Network-Error: Connection refused" in
        # place of a Diagnostic-Code: module.dsn/dsn.C print_network_error.)
        diagnostic = _strip_type(block.get("diagnostic-code")) or block.get("x-network-error")
        status = clean_status(block.get("status"))
        if not diagnostic:
            # No Diagnostic-Code (Courier, some gateways): the recipient's paragraph of the
            # prose is the server's words.
            if text_failures is None:
                text_failures = {f.recipient.lower(): f for f in _text_failures(ctx)}
            text = text_failures.get(recipient.lower())
            if text is not None:
                diagnostic = " ".join(x for x in (diagnostic, text.diagnostic) if x) or None
        # The remote server's own code in its reply beats the reporting MTA's summary of it
        # (Status: 5.1.1 over "552 5.2.2 Over quota" is the reporting MTA's guess).
        said = first_status(diagnostic)
        if said and (not _generic(said) or _generic(status)) and said[0] == (status or said)[0]:
            status = said
        elif said and said[0] == "4" and status and status[0] == "5" and _transient(diagnostic):
            # The remote server's reply was transient (450 4.1.1 "user unknown" from a
            # directory it could not reach, Postfix's soft_bounce): the reporting MTA gave up
            # (5.x.x), but the mailbox was never said not to exist. SPEC 3: 4.x.x is never
            # hard; the reason stays, the category is a soft bounce.
            status = said
        if event_type == "bounce" and diagnostic and _vague(status) and _terse(diagnostic):
            # The server's reply names no condition (Google's "550 #5.1.0 Address rejected."):
            # the report's own words for this recipient ("Your message wasn't delivered to x
            # because the address couldn't be found") may say which. (Only for a few words of
            # reply: reading the prose costs as much as the rest of the DSN.)
            if text_failures is None:
                text_failures = {f.recipient.lower(): f for f in _text_failures(ctx)}
            text = text_failures.get(recipient.lower())
            if text is not None and text.diagnostic and text.diagnostic not in diagnostic:
                diagnostic = f"{diagnostic} {text.diagnostic}"
        if action[:1] == ["expired"] and (status is None or _generic(status)):
            # RFC 3463 X.4.7 "delivery time expired", in the class the server gave (5 if none)
            status = f"{status[0] if status else '5'}.4.7"
        if status is None:
            status = "4.0.0" if event_type == "bounce" and action[:1] == ["delayed"] else None
        if event_type == "bounce" and diagnostic and _needs_command(status, diagnostic):
            # Whether the server refused at RCPT TO or after DATA decides between "no such
            # user" and a filter's verdict; the DSN block rarely says, the prose often does.
            command = smtp_command(ctx.plain_text, recipient)
            if command:
                diagnostic = f"{diagnostic} (in reply to {command})"
        if event_type == "bounce" and ctx.note:
            diagnostic = f"{diagnostic} ({ctx.note})" if diagnostic else ctx.note
        remote = _strip_type(block.get("remote-mta"))
        if remote and diagnostic and remote.lower() not in diagnostic.lower():
            diagnostic = f"{diagnostic} (remote-mta: {remote})"
        when = parse_date(block.get("last-attempt-date")) or arrival
        events.append(
            ctx.event(
                len(events) + 1,
                type=event_type,
                recipient=recipient,
                status=status if event_type == "bounce" else None,
                smtp_code=first_reply_code(diagnostic) if event_type == "bounce" else None,
                diagnostic=one_line(diagnostic),
                occurred_at=when,
            )
        )
    if not events and passed_on:
        # Only "relayed" or "expanded" recipients (Microsoft SMTPSVC's "Delivery Status
        # Notification (Relay)", Sendmail's "relayed (to non-DSN-aware mailer)", Courier's
        # dsnrelayed.txt): the message went on; its prose names the recipients, but no
        # failure, so it must not reach the text parser as a bounce.
        raise NotFeedback("delivery report of relayed or expanded recipients only, no failure")
    return events


def status_blocks(part: Part) -> list[dict[str, str]]:
    """The DSN's field blocks (per-message first), field names lower-cased."""
    return parse_blocks(part.text())


def parse_blocks(text: str) -> list[dict[str, str]]:
    """Field blocks separated by blank lines; names lower-cased, folded values joined."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    blocks = []
    for chunk in _BLANK_LINE.split(text):
        fields = mime.parse_headers(chunk)
        if not fields:
            continue
        block = {name.lower(): value.strip() for name, value in fields}
        if len(block) == len(fields):  # no field repeats (the usual case)
            blocks.append(block)
            continue
        block = {}
        for name, value in fields:
            key = name.lower()
            if key in _RECIPIENT_FIELDS and key in block:
                # RFC 3464 2.1 separates the recipient blocks with a blank line; a generator
                # that leaves it out starts the next recipient with the same field again
                # (the later value used to replace the earlier recipient's).
                blocks.append(block)
                block = {}
            block[key] = value.strip()
        blocks.append(block)
    return blocks


_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def _text_failures(ctx: MailContext) -> list[Failure]:
    text = ctx.text
    return failures_from_text(text, set()) if text else []


def _strip_type(value: str | None) -> str | None:
    """'smtp; 550 5.1.1 ...' -> '550 5.1.1 ...' (RFC 3464 typed fields)."""
    if not value:
        return None
    kind, sep, rest = value.partition(";")
    if sep and re.fullmatch(r"\s*[\w-]+\s*", kind):
        value = rest
    return value.strip() or None


# RFC 3464 2.3.1/2.3.2, and Sendmail's X-Actual-Recipient (savemail.c errbody(): "the real
# problem address", written after alias expansion when it differs from Final-Recipient).
_RECIPIENT_FIELDS = ("final-recipient", "original-recipient", "x-actual-recipient")


def recipient_of(block: dict[str, str]) -> str | None:
    """The subscriber a recipient block is about.

    RFC 3464 2.3.1: Original-Recipient is the address as the sender gave it (the envelope's
    ORCPT), 2.3.2: Final-Recipient the address after forwarding and alias expansion at the
    reporting MTA. We sent to the original one: after a forward, blocking the final one
    would block an address we never mailed and leave the subscriber's. So a valid
    Original-Recipient wins; anything else in it (another address type, a broken address)
    leaves Final-Recipient. Sendmail's X-Actual-Recipient (the address an alias expanded to)
    names the failure only where neither field holds an address (a block without
    Final-Recipient, or "Final-Recipient: rfc822; kim" with no domain).
    """
    final = field_address(block.get("final-recipient"))
    if final is None and "original-recipient" not in block:
        return field_address(block.get("x-actual-recipient"))
    if "original-recipient" not in block:
        return final
    original = field_address(block["original-recipient"], strict=True)
    if original is not None and (
        (final is not None and original.lower() == final.lower()) or _valid(original)
    ):
        return original
    return (
        final
        or field_address(block["original-recipient"])
        or field_address(block.get("x-actual-recipient"))
    )


def _valid(address: str) -> bool:
    try:
        normalize_email(address)
    except InvalidAddress:
        return False
    return True


def _transient(diagnostic: str | None) -> bool:
    code = first_reply_code(diagnostic)
    return code is not None and code // 100 == 4


def _terse(diagnostic: str) -> bool:
    """A reply of a few words: a code and a verdict, no reason given."""
    return diagnostic.count(" ") < 6


def _vague(status: str | None) -> bool:
    """No status, X.0.0 or X.1.0: nothing said, or "something about the address" without
    which condition (a system or network area, X.3.0 or X.4.0, already says whose problem)."""
    return status is None or status.split(".")[1:] in (["0", "0"], ["1", "0"])


def _generic(status: str | None) -> bool:
    return status is None or status.split(".")[1:] in (["0", "0"],)


# (Postfix's "refused to talk to me" names the greeting: the stage is already said)
_COMMAND_WORDS = ("in reply to", "after ", ">>>", "did not like our", "refused to talk to me")


def _needs_command(status: str | None, diagnostic: str) -> bool:
    """Only codes that leave the mailbox in doubt need the command (X.1.x speaks for itself)."""
    subject = status.split(".")[1] if status else ""
    low = diagnostic.lower()
    return subject != "1" and not any(w in low for w in _COMMAND_WORDS)
