"""What the common MTA and provider bounce formats look like, as data.

Each entry describes a *format* (how Exim, qmail, Sendmail, Exchange... write a bounce), not a
particular mail: where the copy of the original message starts, and how to tell which family
produced the bounce (the `source` of its events). `mta_text` applies these generically.
"""

from __future__ import annotations

import re

# Lines that start the returned copy of the original message. Everything after them is the
# sender's own mail and must not be read as the bounce's words (its To: is not a failure).
ORIGINAL_MESSAGE_MARKERS = re.compile(
    r"[ \t>*-]*(?:"
    r"-+ ?this is a copy of the message"  # Exim
    r"|-* ?below this line is a copy of the message"  # qmail, Yahoo
    r"|-* ?(?:original|returned|unsent|undelivered) message(?: follows| as follows)?"  # Sendmail
    r"|-+ ?(?:original|returned) (?:message|mail)"  # Lotus Notes, many gateways
    r"|-* ?the (?:header|headers) of the original message"  # 1&1, GMX
    r"|original message follows|original mail as follows"  # IMail, fml
    r"|below is a copy of the original message"  # OpenSMTPD
    r"|message headers follow"  # DragonFly
    r"|included is a copy of the message header"  # MXLogic
    r"|-+ ?original message headers"  # Microsoft
    r"|-+ ?message header follows"
    r"|-+ ?(?:your )?original message"
    r")"
)
# Words every marker above contains: found first (a fast literal scan), then the marker
# pattern is tried on that line only.
_MARKER_WORDS = re.compile(r"copy of|original|returned|unsent|undelivered|headers? follow")
# A header line at the left margin also starts the copy (MTAs that append it without a marker).
COPIED_HEADER_LINE = re.compile(
    r"\n(?:return-path|received|dkim-signature|message-id|delivered-to|x-[\w-]+):[ \t]"
)


# Apache James (AbstractNotify.java: "Error message below:", then "Message details:") and
# the gateways built on it (Verizon's vtext.com) name the failed recipient only in the
# details block after the error, beside the original's size and line count ("RCPT TO: x",
# "Size (in bytes): 512"): the reason is the text before that block.
DETAILS_BLOCK = re.compile(r"^message details:[ \t]*$", re.MULTILINE)


def copy_start(text: str) -> tuple[int, int] | None:
    """(start, end) of the line where the copy of the original message begins, or None.

    Matching runs on the lower-cased text (several times faster than case-insensitive
    patterns); a text whose length changes when lower-cased (rare Unicode) is not cut.
    """
    global _last_copy_start
    last = _last_copy_start  # one read: another thread may replace it (the tuple is whole)
    if last[0] is text:  # report_text and the inline-header reader ask twice
        return last[1]
    result = _copy_start(text)
    _last_copy_start = (text, result)
    return result


_last_copy_start: tuple[str | None, tuple[int, int] | None] = (None, None)


def _copy_start(text: str) -> tuple[int, int] | None:
    low = text.lower()
    if len(low) != len(text):
        return None
    found: tuple[int, int] | None = None
    for word in _MARKER_WORDS.finditer(low):
        start = low.rfind("\n", 0, word.start()) + 1
        end = low.find("\n", word.end())
        end = len(low) if end < 0 else end
        if ORIGINAL_MESSAGE_MARKERS.match(low, start, end):
            found = (start, end)
            break
    header = COPIED_HEADER_LINE.search(low, 0, found[0] if found else len(low))
    if header is not None:
        return header.start() + 1, header.start() + 1
    return found


# source name -> literal signatures, looked for (as plain substrings: this runs on every mail)
# in From, Subject, X-Mailer, the first Received lines and the start of the text,
# lower-cased; the first family listed whose signature appears wins.
FAMILIES: list[tuple[str, tuple[str, ...]]] = [
    ("amazonses", ("amazonses.com", "amazonaws.com")),
    ("gmail", ("mailer-daemon@google", "gsmtp", "google tried to deliver")),
    ("outlook", ("outlook.com", "hotmail", "microsoft exchange", "msexch", "office 365")),
    ("yahoo", ("yahoo",)),
    ("exim", ("exim ", "(exim", "created automatically by mail delivery software")),
    ("postfix", ("postfix",)),
    ("qmail", ("qmail",)),
    ("opensmtpd", ("opensmtpd",)),
    ("dragonfly", ("dragonfly mail agent",)),
    ("courier", ("courier mail server",)),
    ("domino", ("lotus", "domino")),
    ("sendmail", ("transcript of session follows", "sendmail")),
]

# Content-filtering gateways (literal signatures as above): a "user unknown" they report comes
# from their filter, after the real server accepted or was never asked about the recipient,
# so it is a filter's verdict (policy), not proof that the mailbox does not exist.
FILTER_GATEWAYS: list[tuple[str, tuple[str, ...]]] = [
    ("McAfee Email Gateway", ("mcafee",)),
    ("MailFoundry", ("mailfoundry",)),
    ("SurfControl E-mail Filter", ("surfcontrol",)),
]
# Google Groups answers a post it refuses (sender not a member, or no permission to post)
# with a localized text and no SMTP code; the failed recipient is the group's address.
GROUP_DOMAINS = ("googlegroups.com",)
GROUP_REFUSAL = "the group refused the post (not a member or no permission to post)"


def filter_gateway(signature: str) -> str | None:
    """The filtering gateway named in a lower-cased signature, if any."""
    for name, literal in _GATEWAY_LITERALS:
        if literal in signature:
            return name
    return None


# Evidence that a mail is a delivery failure report at all; without it the text parser does
# not run, so an ordinary mail that reached the bounce mailbox is not read as a bounce.
BOUNCE_SENDER = re.compile(
    r"mailer-daemon|postmaster|mail delivery|^<?>?$|noreply.*bounce", re.IGNORECASE
)
BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery (?:status|fail|notification|has failed|problem)|"
    r"returned mail|failure notice|mail delivery|could not be delivered|non[- ]?remis|"
    r"unzustellbar|not delivered|delivery failure|rejected|bounce|error|"
    r"warning: could not send|message .*(?:failed|delayed)|notification|loop|"
    # a subject that states the failure itself ("Warning: ... User unknown!")
    r"user unknown|unknown (?:user|recipient)|no such (?:user|recipient|mailbox)|"
    r"エラー|不達|配信|送信",
    re.IGNORECASE,
)
# The subjects above that name a delivery failure on their own; "error", "notification",
# "rejected", "loop" or "bounce" also title ordinary mail ("Re: error in my invoice"), so
# with them the text must show the failure too before any address in it is read as failed.
STRONG_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (?:status|fail|notification|has failed|problem)|"
    r"returned mail|failure notice|mail delivery|could not be delivered|non[- ]?remis|"
    r"unzustellbar|not delivered|delivery failure|"
    r"warning: could not send|message .*(?:failed|delayed)|"
    r"user unknown|unknown (?:user|recipient)|no such (?:user|recipient|mailbox)|"
    r"\bloop (?:alert|detected)|"  # fml "Loop Alert: ..."; "Mail loop detected"
    r"エラー|不達|配信|送信",
    re.IGNORECASE,
)
BOUNCE_TEXT = re.compile(
    r"could not be delivered|was not delivered|wasn't delivered|delivery (?:to .{0,80})?failed|"
    r"permanent (?:error|failure)|unable to deliver|undeliverable|did not reach|"
    r"failed (?:permanently|recipient)|following (?:address|recipient)|"
    r"(?:user|recipient) (?:unknown|not found)|error (?:occurred|transferring)|"
    r"Transcript of session|Remote host said|returned to sender|\b[45]\.\d{1,3}\.\d{1,3}\b",
    re.IGNORECASE,
)


def family(signature: str) -> str | None:
    """The MTA family named in a lower-cased signature, if any."""
    for name, literal in _FAMILY_LITERALS:
        if literal in signature:
            return name
    return None


# (name, literal) in the tables' order, flat: one loop per mail instead of a generator per
# family (the first family listed that has a signature present still wins).
_FAMILY_LITERALS = [(name, literal) for name, literals in FAMILIES for literal in literals]
_GATEWAY_LITERALS = [(name, lit) for name, literals in FILTER_GATEWAYS for lit in literals]
