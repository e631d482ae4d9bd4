"""Event -> Outcome (SPEC section 3): what kind of feedback this is, and why.

Order of evidence for a bounce: a specific enhanced status code (RFC 3463) wins; a generic
one (X.0.0) or none falls back to the diagnostic text, then to the bare SMTP reply code.
The text patterns are data (`TEXT_RULES`) so they can grow without touching the logic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bounce_worker.domain.events import Event, EventType


class Category(StrEnum):
    HARD_BOUNCE = "hard_bounce"  # the address does not exist: global block
    MAILBOX_FULL = "mailbox_full"  # full or disabled mailbox: escalating temporary block
    SOFT_BOUNCE = "soft_bounce"  # transient: counted, blacklisted after N in a row
    POLICY = "policy"  # the sender's problem (spam block, IP reputation): recorded only
    COMPLAINT = "complaint"
    UNSUBSCRIBE = "unsubscribe"
    DELIVERED = "delivered"
    OPT_IN = "opt_in"
    IGNORED = "ignored"  # feedback that is about nobody's mailbox (e.g. ARF not-spam)


@dataclass(frozen=True, slots=True)
class Outcome:
    category: Category
    reason: str  # the reason code written on the transition


HARD_BOUNCE = Outcome(Category.HARD_BOUNCE, "hard_bounce")
MAILBOX_FULL = Outcome(Category.MAILBOX_FULL, "mailbox_full")
MAILBOX_DISABLED = Outcome(Category.MAILBOX_FULL, "mailbox_disabled")
SOFT_BOUNCE = Outcome(Category.SOFT_BOUNCE, "soft_bounce")
POLICY = Outcome(Category.POLICY, "policy_rejection")
COMPLAINT = Outcome(Category.COMPLAINT, "complaint")
UNSUBSCRIBE = Outcome(Category.UNSUBSCRIBE, "unsubscribe")
DELIVERED = Outcome(Category.DELIVERED, "delivered")
OPT_IN = Outcome(Category.OPT_IN, "opt_in")
IGNORED_FEEDBACK = Outcome(Category.IGNORED, "feedback_not_complaint")

# ARF (RFC 5965) feedback types that are complaints about the recipient receiving mail.
# None: an ESP complaint event, which carries no type.
COMPLAINT_FEEDBACK_TYPES = frozenset({None, "abuse", "fraud", "virus", "other", "complaint"})

# (status subject.detail) -> outcome, for permanent (5.x.x) codes.
PERMANENT_STATUS: dict[tuple[int, int], Outcome] = {
    (1, 1): HARD_BOUNCE,  # bad destination mailbox
    (1, 2): HARD_BOUNCE,  # bad destination system (domain)
    (1, 6): HARD_BOUNCE,  # mailbox has moved, no forwarding address
    (1, 10): HARD_BOUNCE,  # null MX (RFC 7505)
    (2, 1): MAILBOX_DISABLED,
    (2, 2): MAILBOX_FULL,
}
# Mailbox state is the mailbox's, whatever the class: 4.2.2 is as full as 5.2.2.
ANY_CLASS_STATUS: dict[tuple[int, int], Outcome] = {(2, 1): MAILBOX_DISABLED, (2, 2): MAILBOX_FULL}

# Diagnostic text -> outcome, first match wins. Hard-bounce rules apply to permanent
# failures only; the caller demotes them to soft on a 4xx.
TEXT_RULES: list[tuple[re.Pattern[str], Outcome]] = [
    (re.compile(p, re.IGNORECASE), outcome)
    for p, outcome in [
        (r"over ?quota|quota exceeded|mailbox (is )?full|mailbox size limit|"
         r"insufficient (disk )?(space|storage)|exceeded storage|mail ?box.{0,20}exceed", MAILBOX_FULL),
        (r"(account|mailbox|user).{0,20}(disabled|suspended|inactive|frozen|deactivated|locked)|"
         r"inactive (account|user|mailbox)|not active|has been disabled", MAILBOX_DISABLED),
        (r"spam|blacklist|blocklist|block list|black list|\brbl\b|spamhaus|reputation|"
         r"not allowed to send|relay(ing)? (access )?denied|policy|\bdmarc\b|\bspf\b|\bdkim\b|"
         r"authenticat|ptr record|reverse dns|rdns|blocked using|listed (in|at|on)|"
         r"message (content )?rejected|virus|too many (connections|messages)|rate limit",
         POLICY),
        (r"user ?unknown|unknown user|no such (user|mailbox|recipient|address)|"
         r"(user|mailbox|recipient|address|account)( name)?( \S+)? (does not|doesn't|did not) exist|"
         r"(invalid|unknown|bad) (recipient|mailbox|address|user)|"
         r"recipient (address )?rejected|mailbox (not found|unavailable)|"
         r"not (a )?(valid|known) (user|recipient|mailbox)|no mailbox here|"
         r"addressee unknown|unrouteable address|user not found|"
         r"host (or domain name )?not found|domain (not found|does not exist)|"
         r"no mx|name or service not known|nxdomain", HARD_BOUNCE),
    ]
]


def classify(event: Event) -> Outcome:
    if event.type is EventType.BOUNCE:
        return classify_bounce(event.status, event.smtp_code, event.diagnostic)
    if event.type is EventType.COMPLAINT:
        ftype = (event.feedback_type or "").strip().lower() or None
        return COMPLAINT if ftype in COMPLAINT_FEEDBACK_TYPES else IGNORED_FEEDBACK
    return _BY_TYPE[event.type]


_BY_TYPE = {
    EventType.UNSUBSCRIBE: UNSUBSCRIBE,
    EventType.DELIVERED: DELIVERED,
    EventType.OPT_IN: OPT_IN,
}


def classify_bounce(status: str | None, smtp_code: int | None, diagnostic: str | None) -> Outcome:
    klass, subject, detail = _split_status(status)
    if klass is None and smtp_code is not None:
        klass = smtp_code // 100
    permanent = klass == 5

    if subject is not None and (subject, detail) in ANY_CLASS_STATUS:
        return ANY_CLASS_STATUS[(subject, detail)]
    if permanent and (subject, detail) in PERMANENT_STATUS:
        return PERMANENT_STATUS[(subject, detail)]
    if subject == 7:
        return POLICY

    specific = subject is not None and subject != 0
    if not specific or permanent:
        text_outcome = match_text(diagnostic)
        if text_outcome is not None:
            if text_outcome is HARD_BOUNCE and not permanent:
                return SOFT_BOUNCE
            if not specific or text_outcome is not HARD_BOUNCE:
                return text_outcome
        if not specific and smtp_code == 552:
            return MAILBOX_FULL
    return SOFT_BOUNCE


def match_text(diagnostic: str | None) -> Outcome | None:
    if not diagnostic:
        return None
    for pattern, outcome in TEXT_RULES:
        if pattern.search(diagnostic):
            return outcome
    return None


def _split_status(status: str | None) -> tuple[int | None, int | None, int | None]:
    if not status:
        return None, None, None
    try:
        klass, subject, detail = (int(p) for p in status.split("."))
    except ValueError:
        return None, None, None
    return klass, subject, detail
