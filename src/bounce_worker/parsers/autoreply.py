"""Auto-replies (RFC 3834) and vacation notices: recognised, and NOT bounces.

They reach the bounce mailbox because they answer the Return-Path. Reading one as a bounce
would suppress a perfectly good address, so they are recognised first and reported as
`NotFeedback`. Evidence, strongest first: RFC 3834 `Auto-Submitted: auto-replied`, the
vendor headers of Exchange/Apple/others, `Precedence: auto_reply`, then the subject wording
every major client uses. A delivery report (DSN) is never an auto-reply, whatever it says.
"""

from __future__ import annotations

import re

from bounce_worker.parsers import mime
from bounce_worker.parsers.mime import Part

_HEADER_SIGNS: list[tuple[str, re.Pattern[str]]] = [
    ("Auto-Submitted", re.compile(r"^auto-replied", re.I)),  # RFC 3834 (auto-generated = DSN)
    ("X-Autoreply", re.compile(r"\S")),
    ("X-Autorespond", re.compile(r"\S")),
    ("X-Apple-Action", re.compile(r"vacation", re.I)),
    ("Precedence", re.compile(r"^auto[_-]?reply", re.I)),
    ("X-Auto-Response-Suppress", re.compile(r"^all$|oof", re.I)),  # Exchange sets it on OOF
    ("X-MS-Exchange-Inbox-Rules-Loop", re.compile(r"\S")),
]
_SUBJECT = re.compile(
    r"^\s*(?:auto(?:matic)?[ -]?(?:reply|response|answer|antwort)|out of (?:the )?office|"
    r"away from|on vacation|vacation|abwesenheit|r[ée]ponse automatique|absence|"
    r"自動応答|不在)",
    re.I,
)


# Challenge/response and allow-list systems answer a first mail with "confirm you are a
# person" (RFC 3834 section 1 counts them among automatic responses): not a delivery failure,
# the mailbox exists. Known by the services' sender domains (SpamArrest, Boxbe, Mailblocks,
# Bluebottle, EarthLink spamBlocker), TMDA's X-Delivery-Agent header and the subjects their
# templates use.
_CHALLENGE_SENDERS = re.compile(
    r"spamarrest\.com|boxbe\.com|mailblocks\.com|bluebottle\.com|spamblocker-challenge|"
    r"sendio\.com|choicemail",
    re.I,
)
_CHALLENGE_SUBJECT = re.compile(
    r"please confirm your (?:message|e-?mail|request)|(?:sender|e-?mail|message) verification"
    r"(?! failed)|verify (?:your|that you)|confirmation (?:required|request)|"
    r"awaiting (?:your )?(?:verification|confirmation|approval)|white-?list|guest list|"
    r"approval (?:required|needed)|challenge",
    re.I,
)


def is_challenge(msg: Part) -> bool:
    """A challenge/response or allow-list request: not a bounce, not an auto-reply."""
    if "tmda" in mime.header(msg, "X-Delivery-Agent").lower():
        return True
    sender = mime.header(msg, "From") + " " + mime.header(msg, "Return-Path")
    return bool(
        _CHALLENGE_SENDERS.search(sender) or _CHALLENGE_SUBJECT.search(mime.header(msg, "Subject"))
    )


def is_auto_reply(msg: Part) -> bool:
    for name, pattern in _HEADER_SIGNS:
        value = mime.header(msg, name)
        if value and pattern.search(value):
            # Exchange also stamps X-Auto-Response-Suppress on its NDRs: only trust it
            # together with an auto-reply subject.
            if name == "X-Auto-Response-Suppress" and not _SUBJECT.search(
                mime.header(msg, "Subject")
            ):
                continue
            return True
    return bool(_SUBJECT.search(mime.header(msg, "Subject"))) or is_challenge(msg)
