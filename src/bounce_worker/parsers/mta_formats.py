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
    r"^[ \t>*-]*(?:"
    r"-+ ?This is a copy of the message"  # Exim
    r"|-* ?Below this line is a copy of the message"  # qmail, Yahoo
    # Sendmail, Gmail
    r"|-* ?(?:Original|Returned|Unsent|Undelivered) message(?: follows| as follows)?"
    r"|-+ ?(?:Original|Returned) (?:message|mail)"  # Lotus Notes, many gateways
    r"|-* ?The (?:header|headers) of the original message"  # 1&1, GMX
    r"|Original message follows|Original mail as follows"  # IMail, fml
    r"|Below is a copy of the original message"  # OpenSMTPD
    r"|Message headers follow"  # DragonFly
    r"|Included is a copy of the message header"  # MXLogic
    r"|-+ ?Original message headers"  # Microsoft
    r"|-+ ?Message header follows"
    r"|-+ ?(?:Your )?original message"
    r").*$",
    re.IGNORECASE | re.MULTILINE,
)
# A header line at the left margin also starts the copy (MTAs that append it without a marker).
COPIED_HEADER_LINE = re.compile(
    r"^(?:Return-Path|Received|DKIM-Signature|Message-I[Dd]|Delivered-To|X-[\w-]+):[ \t]",
    re.MULTILINE,
)

# source name -> signature, matched against From, Subject, X-Mailer, Received and the text.
FAMILIES: list[tuple[str, re.Pattern[str]]] = [
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in [
        ("amazonses", r"amazonses\.com|amazonaws\.com"),
        ("gmail", r"mailer-daemon@google(?:mail)?\.com|gsmtp|Google tried to deliver"),
        (
            "outlook",
            r"outlook\.com|hotmail|protection\.outlook|Microsoft Exchange|MSEXCH|Office ?365",
        ),
        ("yahoo", r"yahoo"),
        ("exim", r"\bExim\b|This message was created automatically by mail delivery software"),
        ("postfix", r"\bPostfix\b"),
        ("qmail", r"qmail"),
        ("opensmtpd", r"OpenSMTPD"),
        ("dragonfly", r"DragonFly Mail Agent"),
        ("courier", r"Courier mail server"),
        ("domino", r"Lotus|Domino|Notes"),
        ("sendmail", r"Transcript of session follows|\bsendmail\b|\(8\.\d+\.\d+"),
    ]
]

# Evidence that a mail is a delivery failure report at all; without it the text parser does
# not run, so an ordinary mail that reached the bounce mailbox is not read as a bounce.
BOUNCE_SENDER = re.compile(
    r"mailer-daemon|postmaster|mail delivery|^<?>?$|noreply.*bounce", re.IGNORECASE
)
BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery (?:status|fail|notification|has failed|problem)|"
    r"returned mail|failure notice|mail delivery|could not be delivered|non[- ]?remis|"
    r"unzustellbar|not delivered|delivery failure|rejected|bounce|error|"
    r"warning: could not send|message .*(?:failed|delayed)|notification|"
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
    for name, pattern in FAMILIES:
        if pattern.search(signature):
            return name
    return None
