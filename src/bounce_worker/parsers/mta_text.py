"""Free-form bounce bodies (Exim, qmail, Sendmail transcripts, Exchange, Gmail, Yahoo, ...).

Every MTA words its bounce differently, but they share one shape: a preamble, then for each
failed recipient its address followed (or preceded on the same line) by the reason the remote
server gave, then a copy of the original message. So the rule is generic:

1. cut the text where the copy of the original message starts (`mta_formats.copy_start`);
2. the failed recipients are the addresses left in the report, in order, minus the sender's
   own addresses, the report's contact addresses and the MAIL FROM the server quoted;
3. each recipient's diagnostic is the text from its line up to the next recipient's line;
   the first enhanced status code and SMTP reply code in it are its status and code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import getaddresses

from bounce_worker.domain.events import Event
from bounce_worker.parsers import mime
from bounce_worker.parsers._common import (
    ADDRESS_RE,
    STATUS_RE,
    check_recipients,
    first_reply_code,
    first_status,
    iter_addresses,
    one_line,
    tidy_address,
)
from bounce_worker.parsers.context import MailContext
from bounce_worker.parsers.mta_formats import (
    DETAILS_BLOCK,
    GROUP_DOMAINS,
    GROUP_REFUSAL,
    copy_start,
)

MAX_DIAGNOSTIC_LINES = 12
# Addresses in these contexts are not the failed recipient: the sender as the server quoted
# it, support contacts in the boilerplate, message ids.
# (Both run on the lower-cased start of the address's line.)
_NOT_RECIPIENT_CONTEXT = re.compile(
    r"(?:mail from:?|envelope-from|return-path:|from:|sender:|reply-to:|message-id:?|"
    r"contact|questions|write to|e-?mail us|help desk|support at)\s*[<\"']?\s*$"
)
# (Only the words just before the address: prose lines can be long, and "we recommend
# contacting the other email provider" in Gmail's report precedes the failed address.)
_CONTACT_LINE = re.compile(r"contact(?!ing the)|assistance|questions|write to|postmaster of")
# "To: addr" at the start of a line quotes the original message's headers in the report.
_QUOTED_HEADERS = frozenset({"to:", "cc:"})
# ... and a later address of such a line ("To: a@x, b@y").
# (Exchange's and Outlook's quotations separate the addresses with ";".)
_QUOTED_LIST = re.compile(r"[ \t]*(?:to|cc):[ \t]*(?:[^,;\n]*@[^,;\n]*[,;][ \t]*)+[<\"']?$")
_NOT_RECIPIENT_LOCAL = frozenset({"mailer-daemon", "mailer_daemon", "noreply", "no-reply"})
DELAY_TEXT = re.compile(
    # (Sendmail's delay notice is titled "Warning: could not send message for past 4 hours";
    # a bare "Warning:" also titles final failures, "Warning: ... User unknown!")
    # (Not the advice "check the address and try again" of a final failure (Gmail's and
    # Outlook's reports), nor qmail-send's "I'm not going to try again; this message has been
    # in the queue too long" (qmail-send.c), which says the failure is final.)
    r"will (?:be )?retr(?:y|ied)|still trying|delayed|not yet been delivered|"
    r"(?<!not going to )(?<!and )try again|"
    r"warning: could not send|warning message only|"
    r"temporar(?:y|ily)|deferred"  # run on lower-cased text
)
# A literal each alternative of DELAY_TEXT contains: the regex (several times slower than a
# substring scan, its look-behinds defeat the engine's prefix scan) runs only when one is in
# the text.
_DELAY_LITERALS = (
    "retr",
    "still trying",
    "delayed",
    "not yet been delivered",
    "try again",
    "warning",
    "temporar",
    "deferred",
)


def is_delay_notice(text: str) -> bool:
    """Whether a report's (lower-cased) text says delivery is only delayed."""
    return any(w in text for w in _DELAY_LITERALS) and DELAY_TEXT.search(text) is not None


_STATUS_FIELD = re.compile(r"^\s*Status:\s*([245]\.\d{1,3}\.\d{1,3})", re.I | re.M)


# The SMTP command a failure answered, as MTAs write it in their reports: Postfix "(in reply
# to RCPT TO command)", Exim "after RCPT TO:", Sendmail's transcript ">>> DATA", DragonFly
# "did not like our RCPT TO". Read on the lower-cased text.
# Postfix smtp(8) names no command when the server refuses in its greeting banner:
# smtp_proto.c smtp_helo() "host %s refused to talk to me: %s" (a non-2xx greeting) and
# smtp_connect.c "server refused to talk to me: %s" (a 4xx one); the prose wraps lines, so
# any whitespace between the words. That is the connection stage. (A regex of its own, run
# only when "talk" is in the text: as a branch of _COMMAND_RE it made that one 4x slower.)
_COMMAND_RE = re.compile(
    r"(?:in reply to|after(?: pipelined)?|>>>|did not like our|smtp command:?) ?"
    r"(rcpt to|mail from|end of data|final data|data|ehlo|helo|initial connection|connect)"
)
_GREETING_REFUSED = re.compile(r"refused\s+to\s+talk\s+to\s+me")
_COMMAND_NAMES = {
    "rcpt to": "RCPT TO",
    "mail from": "MAIL FROM",
    "ehlo": "EHLO",
    "helo": "HELO",
    "initial connection": "connect",
    "connect": "connect",
}


def smtp_command(text: str, recipient: str) -> str | None:
    """The command the failure for `recipient` answered, from the report's prose."""
    low = text.lower()
    start = low.find(recipient.lower())
    window = low[start : start + 1500] if start >= 0 else low[:3000]
    match = _COMMAND_RE.search(window)
    greeting = _GREETING_REFUSED.search(window) if "talk" in window else None
    if greeting is not None and (match is None or greeting.start() < match.start()):
        return "connect"  # Postfix's "refused to talk to me": the greeting
    if match is None:
        return None
    return _COMMAND_NAMES.get(match.group(1), "DATA")


@dataclass(frozen=True, slots=True)
class Failure:
    recipient: str
    diagnostic: str | None
    status: str | None
    smtp_code: int | None


def report_text(text: str) -> str:
    """The bounce's own words: everything before the copy of the original message."""
    cut = copy_start(text)
    return text[: cut[0]] if cut and cut[0] > 0 else text


def find_recipients(report: str, exclude: set[str]) -> list[tuple[str, int]]:
    """(address, offset of its first occurrence) for each candidate failed recipient."""
    seen: dict[str, tuple[str, int]] = {}
    quoted: dict[str, tuple[str, int]] = {}
    excluded = set(exclude)
    for match in iter_addresses(report):
        address = tidy_address(match.group(1))
        key = address.lower()
        if key in excluded:
            continue
        line_start = report.rfind("\n", 0, match.start()) + 1
        before = report[line_start : match.start()].lower()
        if (
            address.split("@")[0].lower() in _NOT_RECIPIENT_LOCAL
            or _NOT_RECIPIENT_CONTEXT.search(before[-40:])
            or _CONTACT_LINE.search(before[-80:])
        ):
            # A support or sender address: not a recipient anywhere in this report, even
            # where it is repeated without the telling words (e.g. in another language).
            excluded.add(key)
            seen.pop(key, None)
            continue
        if before.strip(" \t<\"'") in _QUOTED_HEADERS or _QUOTED_LIST.match(before):
            # "To: x" / "Cc: x": the report quoting the original's headers (Exchange's
            # "Your message To: ... Subject: ... Sent: ..."). Such an address is a failure
            # only where the report names no other one.
            quoted.setdefault(key, (address, match.start()))
            continue
        if key not in seen:
            seen[key] = (address, match.start())
            check_recipients(len(seen))
    if not seen:
        seen = {k: v for k, v in quoted.items() if k not in excluded}
    found = sorted(seen.values(), key=lambda item: item[1])
    return _without_quoted_replies(report, found) if len(found) > 1 else found


# Before an address on its line: the remote server's reply quoting it (Postfix "said: 550
# 5.1.1 <x>", qmail-remote "Remote host said: 550 <x>... User unknown", Exim "SMTP error
# from remote mail server after RCPT TO:<x>:", a transcript's "<<< 550 <x>").
_REPLY_BEFORE = re.compile(r"said:|rcpt to:|<<<|(?<![\w.])[245]\d\d[ -]|[245]\.\d{1,3}\.\d")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


def _without_quoted_replies(report: str, found: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Leave out addresses the server's reply quotes inside another recipient's paragraph.

    MTAs print each failed recipient at the start of its own line (Postfix bounce(8) and
    qmail-send "<addr>:", Exim's indented "  addr", Courier, OpenSMTPD), then the reply. The
    reply may quote another address: the recipient as the remote rewrote it ("550 5.1.1
    <kim.k@mail.example.net>: Recipient address rejected"), the envelope sender ("<bounce@x>:
    Sender address rejected", Postfix smtpd), Exim's "after RCPT TO:<rewritten>". Such an
    address, quoted after a reply code within the paragraph of a recipient's line (on its
    own line only when indented deeper, as Postfix folds the reply), is not a failure.
    """
    out: list[tuple[str, int]] = []
    owner: tuple[int, int] | None = None  # (offset, indentation) of a recipient's line
    headline = False  # a recipient was named at the start of its line
    for address, offset in found:
        line_start = report.rfind("\n", 0, offset) + 1
        prefix = report[line_start:offset]
        at_start = not prefix.strip(" \t<\"'(")
        indent = len(prefix) - len(prefix.lstrip(" \t"))
        if owner is not None and _PARAGRAPH_BREAK.search(report, owner[0], line_start):
            owner = None
        if at_start:
            quoted = (
                owner is not None
                and indent > owner[1]
                and _REPLY_BEFORE.search(report[owner[0] : line_start].lower()) is not None
            )
        else:
            # (Also below the paragraph: old Gmail's "Technical details of permanent
            # failure" quotes the reply a blank line after the listed recipients.)
            quoted = headline and _REPLY_BEFORE.search(prefix.lower()) is not None
        if quoted:
            continue
        if at_start:
            owner = (offset, indent)
            headline = True
        out.append((address, offset))
    return out


def segment(report: str, start: int, end: int) -> str:
    """From the start of the line holding `start` up to `end`, at most a few lines.

    Sendmail-style transcripts put the command and the server's reply (">>> RCPT To:",
    "<<< 550 ...") on the lines just above the recipient's summary line: those are kept.
    """
    line_start = report.rfind("\n", 0, start) + 1
    while line_start > 0:
        above = report.rfind("\n", 0, line_start - 1) + 1
        if not report[above:line_start].lstrip().startswith(("<<<", ">>>")):
            break
        line_start = above
    lines = [ln for ln in report[line_start:end].splitlines() if ln.strip()]
    return "\n".join(lines[:MAX_DIAGNOSTIC_LINES])


# Postfix bounce(8) "<final@x> (expanded from <alias@y>): ...", Exim's "final@x\n
# (generated from alias@y)", Sendmail's "(expanded from: <alias@y>)": one failure, named
# twice. The alias is the address we sent to (what a DSN calls Original-Recipient, RFC 3464
# 2.3.1): it names the subscriber.
_ALIAS_RE = re.compile(
    r"<?("
    + ADDRESS_RE.pattern
    # (Sendmail's report puts its "(reason: ...)" line between the two.)
    + r")>?[ \t]*(?:\n[ \t]*\(reason:[^\n]*\))?\n?[ \t]*\((?:expanded|generated) from:?\s*<?("
    + ADDRESS_RE.pattern
    + r")>?\)",
    re.IGNORECASE,
)


def aliases(report: str) -> dict[str, str]:
    """final address (lower-cased) -> the original address it was expanded from."""
    if "expanded from" not in report and "generated from" not in report:
        return {}
    return {
        tidy_address(m.group(1)).lower(): tidy_address(m.group(3))
        for m in _ALIAS_RE.finditer(report)
    }


def failures_from_text(
    text: str, exclude: set[str], fallback_recipients: list[str] | None = None
) -> list[Failure]:
    report = report_text(text)
    found = find_recipients(report, exclude)
    if not found and fallback_recipients:
        # The report names nobody (a bare transcript): the recipients come from headers and
        # the whole report is the diagnostic of each.
        diag = segment(report, 0, len(report))
        return [_failure(r, diag) for r in fallback_recipients]
    expanded = aliases(report)
    if expanded:
        originals = {a.lower() for a in expanded.values()}
        found = [(a, o) for a, o in found if a.lower() in expanded or a.lower() not in originals]
    out = []
    low = report.lower() if len(found) > 1 else ""
    details = DETAILS_BLOCK.search(report.lower()) if "etails:" in report else None
    reasons_above = _reasons_above(report, low, found) if low else {}
    for _i, (address, offset) in enumerate(found):
        if offset in reasons_above:
            out.append(_failure(_named(expanded, address), reasons_above[offset]))
            continue
        # A recipient's paragraph ends where a line names another recipient (reports that
        # repeat the list, e.g. in two languages, must not lend one the other's reason).
        end = len(report)
        # (From the next line on: recipients listed on one line, "kim@x, bob@y" or "to kim@x
        # and bob@y", share the text that follows the line.)
        line_end = report.find("\n", offset)
        after = line_end if line_end >= 0 else offset
        for other, _ in found:
            if other is not address:
                pos = low.find(other.lower(), after)
                if 0 <= pos < end:
                    end = pos
        if end < len(report):
            end = report.rfind("\n", 0, end) + 1 or end
        if details is not None and offset > details.start():
            # Named in an Apache James details block: the error is the text above it.
            named = expanded.get(address.lower(), address) if expanded else address
            out.append(_failure(named, segment(report, 0, details.start())))
            continue
        diag = segment(report, offset, end)
        if not STATUS_RE.search(diag) and first_reply_code(diag) is None:
            if len(found) == 1:
                # A reason paragraph above the recipient list: the whole report explains it.
                diag = segment(report, 0, len(report))
            else:
                # Named again further down with the server's reply (Exchange's "Diagnostic
                # information for administrators": the address, then "Remote Server returned
                # '550 5.1.1 ...'" or "#550 5.1.1 ... ##"): that paragraph has the codes.
                later = _coded_paragraph(report, low, address, offset, found)
                if later:
                    diag = f"{diag}\n{later}"
                else:
                    # One of a list of bare addresses with the reason after the list (old
                    # Gmail "Delivery to the following recipients failed permanently:" then
                    # one "Technical details of permanent failure"; Notes/Domino "was not
                    # delivered to: a b because: ..."): that reason is each one's.
                    shared = _after_address_list(report, offset, found)
                    if shared:
                        diag = f"{diag.splitlines()[0]}\n{shared}"
                    else:
                        # Sendmail's transcript names it again with its error, no code
                        # ("<bob@x>... Deferred: Connection timed out with x.", err.c
                        # usrerr "%s... %s"), as for a recipient under "The following
                        # addresses had transient non-fatal errors" (savemail.c errbody).
                        said = _said_line(report, low, address, offset)
                        if said:
                            diag = f"{diag}\n{said}"
        out.append(_failure(expanded.get(address.lower(), address) if expanded else address, diag))
    return out


def _named(expanded: dict[str, str], address: str) -> str:
    return expanded.get(address.lower(), address) if expanded else address


def _bare_line(report: str, offset: int) -> tuple[int, int] | None:
    """(start, end) of the line holding `offset` when it holds only an address."""
    start = report.rfind("\n", 0, offset) + 1
    end = report.find("\n", offset)
    end = len(report) if end < 0 else end
    line = report[start:end].strip(" \t<>\"',;")
    return (start, end) if line and ADDRESS_RE.fullmatch(line) else None


def _after_address_list(report: str, offset: int, found: list[tuple[str, int]]) -> str | None:
    """The text after the run of bare address lines `offset` is in, when the run names
    several of the recipients (a list sharing one reason)."""
    line = _bare_line(report, offset)
    if line is None:
        return None
    offsets = {at for _a, at in found}
    end, members = line[1], 1
    while True:
        nxt = end + 1
        while nxt < len(report) and report[nxt] in " \t":
            nxt += 1
        after = _bare_line(report, nxt) if nxt < len(report) else None
        if after is None:
            break
        if any(after[0] <= at < after[1] for at in offsets):
            members += 1
        end = after[1]
    before = report.rfind("\n", 0, line[0] - 1) + 1 if line[0] > 0 else 0
    while before > 0 and _bare_line(report, before) is not None:
        if any(before <= at < line[0] for at in offsets):
            members += 1
        line = (before, line[1])
        before = report.rfind("\n", 0, before - 1) + 1
    if members < 2 or end >= len(report):
        return None
    shared = segment(report, end + 1, len(report))
    return shared or None


# Lotus Notes/Domino's text report: "------- Failure Reasons  --------", then for each
# recipient its reason on the line(s) above its address (Notes router delivery failure
# report; the layout Sisimai's Lhost::Notes documents in its comments).
_FAILURE_REASONS = re.compile(r"^-+ *failure reasons *-+[ \t]*$", re.M)


def _reasons_above(report: str, low: str, found: list[tuple[str, int]]) -> dict[int, str]:
    """offset of each recipient in a Notes "Failure Reasons" block -> its reason and line."""
    if "failure reasons" not in low:
        return {}
    header = _FAILURE_REASONS.search(low)
    if header is None:
        return {}
    out = {}
    start = header.end()
    for _address, offset in found:
        if offset < start:
            continue
        line = _bare_line(report, offset)
        if line is None:
            return {}  # not the layout: an address with its reason on its own line
        out[offset] = "\n".join(ln for ln in report[start : line[1]].splitlines() if ln.strip())
        start = line[1]
    return out


def _said_line(report: str, low: str, address: str, offset: int) -> str | None:
    """A later line that starts with `address` followed by "..." and the error (Sendmail's
    "<addr>... reason" transcript line), whole (the address is part of it)."""
    key = address.lower()
    pos = low.find(key, offset + len(key))
    for _ in range(3):
        if pos < 0:
            return None
        line_start = low.rfind("\n", 0, pos) + 1
        line_end = low.find("\n", pos)
        line_end = len(low) if line_end < 0 else line_end
        after = low[pos + len(key) : line_end].lstrip(">")
        if not low[line_start:pos].strip(" \t<") and after.startswith("... ") and after[4:].strip():
            return report[line_start:line_end].strip()
        pos = low.find(key, pos + len(key))
    return None


def _coded_paragraph(
    report: str, low: str, address: str, offset: int, found: list[tuple[str, int]]
) -> str | None:
    """The first later paragraph naming `address` that quotes a status or reply code."""
    key = address.lower()
    pos = low.find(key, offset + len(key))
    for _ in range(3):  # a report names a recipient a few times at most
        if pos < 0:
            return None
        end = len(report)
        for other, _at in found:
            if other is not address:
                at = low.find(other.lower(), pos)
                if 0 <= at < end:
                    end = at
        if end < len(report):
            end = report.rfind("\n", 0, end) + 1 or end
        paragraph = segment(report, pos, end)
        if STATUS_RE.search(paragraph) or first_reply_code(paragraph) is not None:
            return paragraph
        pos = low.find(key, pos + len(key))
    return None


def _failure(recipient: str, diag: str) -> Failure:
    status_field = _STATUS_FIELD.search(diag)
    status = status_field.group(1) if status_field else _failure_status(diag)
    return Failure(recipient, one_line(diag), status, first_reply_code(diag))


def _failure_status(diag: str) -> str | None:
    """The first 4.x.x/5.x.x status of a paragraph: a transcript shows the accepted commands'
    2.x.x replies too (Sendmail ">>> RCPT To:<x>", "<<< 250 2.1.5 Ok", then ">>> DATA",
    "<<< 554 5.7.1 ..."). Only where no failure status is quoted does a 2.x.x one count
    (a success notice)."""
    first = first_status(diag)
    if first is None or first[0] != "2":
        return first
    for match in STATUS_RE.finditer(diag):
        if match.group(1) != "2":
            return ".".join(match.groups())
    return first


def parse_text_bounce(ctx: MailContext, text: str) -> list[Event]:
    """Events of a free-form bounce whose human-readable text is `text`."""
    msg = ctx.msg
    if ctx.original is None:
        cut = copy_start(text)
        if cut:
            ctx.original = mime.headers_from_text(text[cut[1] :])
    # The bounce goes back to the sender: its To, and the original's From, are not failures.
    exclude = {
        a.lower()
        for name in ("To", "From", "Return-Path")
        for a in mime.addresses(mime.header(msg, name))
    }
    if ctx.original is not None:
        for name in ("From", "Sender", "Return-Path", "Reply-To"):
            exclude.update(a.lower() for a in mime.addresses(mime.header(ctx.original, name)))
    failed_header = mime.addresses(mime.header(msg, "X-Failed-Recipients"))
    failures = failures_from_text(text, exclude, failed_header)
    if not failures and not failed_header:
        # Only when the report names nobody (rare): the original recipients at a domain the
        # report names.
        failures = failures_from_text(text, exclude, _named_by_domain(ctx, text))
    if failed_header:
        # Exim names its failed recipients in a header: trust it over prose scanning (named
        # by the address they were generated from, as the prose's failures are).
        expanded = aliases(report_text(text))
        failed_header = list(dict.fromkeys(expanded.get(a.lower(), a) for a in failed_header))
        by_address = {f.recipient.lower(): f for f in failures}
        first = failures[0].diagnostic or "" if failures else ""
        failures = [by_address.get(a.lower()) or _failure(a, first) for a in failed_header]
    failures = [_format_notes(ctx, f) for f in failures]
    if not all(f.status or f.smtp_code for f in failures):
        # A recipient whose paragraph quotes no code (qmail-local's "This address no longer
        # accepts mail." beside another's "Remote host said: 550 ..."): a non-delivery report
        # is a final failure (RFC 3464: Action failed goes with 5.x.x) unless it says it is
        # only a delay.
        scope = text[:3000].lower()
        mixed = any(f.status or f.smtp_code for f in failures)
        if mixed:
            # (The report's own words above the first recipient, and the recipient's own
            # paragraph (Postfix "Host not found, try again"): another recipient's quoted
            # reply, "451 4.7.1 try again later", says nothing of this one.)
            first = scope.find(failures[0].recipient.lower())
            scope = scope[:first] if first > 0 else scope
        delay = is_delay_notice(scope)
        failures = [
            f
            if f.status or f.smtp_code
            else Failure(
                f.recipient,
                f.diagnostic,
                "4.0.0"
                if delay or (mixed and is_delay_notice((f.diagnostic or "").lower()))
                else "5.0.0",
                None,
            )
            for f in failures
        ]
    return [
        ctx.event(i, type="delivered", recipient=f.recipient, diagnostic=f.diagnostic)
        if _delivered(f)
        else ctx.event(
            i,
            type="bounce",
            recipient=f.recipient,
            status=f.status,
            smtp_code=f.smtp_code,
            diagnostic=f.diagnostic,
        )
        for i, f in enumerate(failures, 1)
    ]


def _delivered(failure: Failure) -> bool:
    """A 2.x.x status (RFC 3463 class 2: success) and no failure reply code: a success notice
    in text form (OpenSMTPD bounce.c notice_success "Your message was successfully delivered
    to these recipients.", then "addr: 250 2.0.0 Ok"), as a DSN's Action: delivered is."""
    return (failure.status or "")[:2] == "2." and not failure.smtp_code


def _named_by_domain(ctx: MailContext, text: str) -> list[str]:
    """Original recipients whose domain the report itself names ("example.com (smtp)...
    Deferred" in a Sendmail V5 transcript): a report that names no address still names the
    host it failed at. An address found only in the returned copy is never a failure (the
    list's own address, Cc'd people): without its domain in the report, no event.
    """
    if ctx.original is None:
        return []
    report = report_text(text).lower()
    if "delivery report unavailable" in report:
        # Postfix bounce(8) when the recipients' bounce log is gone (bounce_notify_util.c:
        # "--- Delivery report unavailable ---"): the notice names nobody, and the message it
        # returns is the one that failed, so its recipients are the failures.
        return mime.addresses(mime.header(ctx.original, "To"))
    # The recipient's own mail system reporting (Verizon's MMS gateway, "sysadmin@vma.vzwpix.
    # com" about "5555550100@vzwpix.com", names the number only in the returned copy): its
    # domain is the recipient's. Never the original sender's own domain, where the sender's
    # outgoing server would be reporting about a list address.
    named = _named_by_display_name(ctx.original, report)
    if named:
        return named
    reporter = _domain(mime.addresses(mime.header(ctx.msg, "From")))
    sender = _domain(mime.addresses(mime.header(ctx.original, "From")))
    named = []
    for a in mime.addresses(mime.header(ctx.original, "To")):
        domain = a.rpartition("@")[2].lower()
        if re.search(rf"(?<![\w.-]){re.escape(domain)}(?![\w-])", report) or (
            reporter
            and domain != sender
            and (reporter == domain or reporter.endswith("." + domain))
        ):
            named.append(a)
    return named


def _named_by_display_name(original: mime.Part, report: str) -> list[str]:
    """Original recipients the (lower-cased) report names by their display name in quotes:
    Exchange's NDR lists a recipient it resolved from its directory as "'Kim K' on <date>"
    with no address ("The following recipient(s) cannot be reached:")."""
    if "'" not in report:
        return []
    named = []
    for name, address in getaddresses([mime.header(original, "To"), mime.header(original, "Cc")]):
        name = name.strip().strip("'\"").lower()
        if len(name) >= 3 and "@" in address and f"'{name}'" in report:
            named.append(tidy_address(address))
    return named


def _domain(addresses: list[str]) -> str:
    return addresses[0].rpartition("@")[2].lower() if addresses else ""


def _format_notes(ctx: MailContext, failure: Failure) -> Failure:
    """What the bounce's format tells beyond its words (see mta_formats)."""
    note = ctx.note
    domain = failure.recipient.rpartition("@")[2].lower()
    if domain in GROUP_DOMAINS and not failure.smtp_code:
        note = GROUP_REFUSAL
    if note is None:
        return failure
    diagnostic = f"{failure.diagnostic} ({note})" if failure.diagnostic else note
    return Failure(failure.recipient, diagnostic, failure.status, failure.smtp_code)
