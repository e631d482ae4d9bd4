"""Event -> Outcome (SPEC section 3): what kind of feedback this is, and why.

Evidence for a bounce, strongest first:

1. Texts that are unambiguous whatever code the server attached: a full mailbox, a disabled
   mailbox, a message that is not RFC 5322 compliant (servers send these with any code,
   e.g. qmail's "over quota (#5.1.1)").
2. The SMTP stage the server refused at. A refusal after connect, EHLO or MAIL FROM is about
   the sender (the recipient was never named): policy. A "user unknown" in reply to DATA
   comes after the server accepted the recipient at RCPT TO, so the mailbox exists and a
   content filter spoke: policy, never a hard bounce (unless the server said X.1.1 itself).
3. A specific enhanced status code (RFC 3463): X.7.x security/policy (X.7.13 is "user account
   disabled", RFC 7372), X.6.x content, X.1.7/X.1.8 bad *sender* address: policy;
   X.1.1/X.1.2/X.1.3/X.1.6/X.1.10 (5.x.x): hard; X.2.2: mailbox full.
4. The diagnostic text (`TEXT_RULES`, first match wins), for generic codes (X.0.0, X.y.0)
   and the codes that say little about the mailbox (X.3.x system, X.4.x network,
   X.5.x protocol, X.2.0, X.2.1, which servers use for "user unknown" as often as for
   "disabled"). User-unknown texts are hard only on a permanent (5xx) failure.
5. X.2.1 without telling text: disabled; a bare 552: mailbox full; else soft.

The patterns are data and run on the lower-cased diagnostic (case-insensitive regexes with
long alternations are several times slower).
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
# A soft bounce caused by our own message's format: same category, its own reason code.
NONCOMPLIANT = Outcome(Category.SOFT_BOUNCE, "soft_bounce")

# ARF (RFC 5965) feedback types that are complaints about the recipient receiving mail.
# None: an ESP complaint event, which carries no type.
COMPLAINT_FEEDBACK_TYPES = frozenset({None, "abuse", "fraud", "virus", "other", "complaint"})

# (status subject.detail) -> outcome, for permanent (5.x.x) codes.
PERMANENT_STATUS: dict[tuple[int, int], Outcome] = {
    (1, 1): HARD_BOUNCE,  # bad destination mailbox
    (1, 2): HARD_BOUNCE,  # bad destination system (domain)
    (1, 3): HARD_BOUNCE,  # bad destination mailbox address syntax: can never be delivered
    (1, 6): HARD_BOUNCE,  # mailbox has moved, no forwarding address
    (1, 10): HARD_BOUNCE,  # null MX (RFC 7505)
}
# Whatever the class: these describe the mailbox or the sender, not a transient condition.
ANY_CLASS_STATUS: dict[tuple[int, int], Outcome] = {
    (2, 2): MAILBOX_FULL,
    (7, 13): MAILBOX_DISABLED,  # RFC 7372 "user account disabled"
    (1, 7): POLICY,  # bad sender's mailbox address syntax
    (1, 8): POLICY,  # bad sender's system address
}
# Status subjects whose detail says little about the mailbox: the text decides.
WEAK_SUBJECTS = frozenset({0, 2, 3, 4, 5})

# Diagnostic text -> outcome, on the lower-cased text; the first group with a matching pattern
# wins. Order matters: message-format problems mention "spam", rate limits "blocked", sender
# rejections "does not exist". Each alternative is its own regex: one starting with a literal
# is scanned for at C speed, where a long alternation is tried position by position.
RULE_GROUPS: list[tuple[Outcome, list[str]]] = [
    (
        MAILBOX_FULL,
        [
            r"over ?quota",
            r"quota (?:exceeded|full)",
            r"exceeded (?:its |the )?quota",
            r"mailbox (?:is )?full",
            r"mailbox size limit",
            r"full mailbox",
            r"mailfolder is full",
            r"insufficient (?:disk )?(?:space|storage)",
            r"exceeded storage",
            r"mail ?box.{0,20}exceed",
            r"user.{0,10}is full",
            r"too many messages in (?:the )?(?:mailbox|folder)",
        ],
    ),
    (
        MAILBOX_DISABLED,
        [
            r"(?:account|mailbox|user|recipient(?: address)?)(?: has been| is)? (?:is )?"
            r"(?:disabled|suspended|inactive|frozen|deactivated|locked|expired)",
            r"disabled (?:recipient|account|mailbox|user)",
            r"inactive (?:account|user|mailbox)",
            r"(?:account|mailbox) (?:is )?not active",
            r"has been disabled",
            r"account.{0,20}closed",
        ],
    ),
    (
        POLICY,  # the recipient's own filter refused: the mailbox exists, whatever the code
        [
            r"recipient preferences",
            r"refuses? to (?:receive|accept)",
            r"blocked by the recipient",
            r"only accepting mail from",
            r"rejected due to user rules",
            r"message filtered",
            # au/EZweb (KDDI): its reception filter answers "User unknown" with no address
            r"550 : user unknown",
        ],
    ),
    (
        NONCOMPLIANT,  # our message's format or size: not the mailbox's fault
        [
            r"message (?:size )?(?:exceeds|is too (?:big|large))",
            r"exceeds? (?:the )?(?:fixed )?maximum (?:message )?size",
            r"message too (?:big|large)",
            r"size limit exceeded",
            r"not rfc ?(?:5322|2822|822) compliant",
            r"rfc ?(?:5322|2822) (?:specific|compliant)",
            r"duplicate header",
            r"multiple addresses in from",
            r"headers? (?:is |are )?(?:not valid|malformed|invalid)",
        ],
    ),
    # Rate limits are transient (SPEC 3: "rate limits" are soft), even when worded "blocked".
    (
        SOFT_BOUNCE,
        [
            r"too many (?:connections|messages|recipients|concurrent)",
            r"rate limit(?!.{0,60}reputation)",  # "rate limited due to IP reputation": policy
            r"frequency limit",
            r"rate of",
            r"throttl",
            r"try again later",
        ],
    ),
    (
        POLICY,
        [
            r"spam",
            r"blacklist",
            r"blocklist",
            r"block ?list",
            r"black ?list",
            r"rbl\b",
            r"dnsbl",
            r"reputation",
            r"blocked\b",
            r"access denied",
            r"denied by policy",
            r"not allowed",
            r"not permitted",
            r"relay(?:ing)? (?:access )?(?:denied|not)",
            r"policy",
            r"dmarc",
            r"spf\b",
            r"dkim",
            r"authenticat",
            r"ptr record",
            r"reverse dns",
            r"rdns\b",
            r"ip name lookup",
            r"mismatch(?:es)? client ip",
            r"invalid ip",
            r"unverif[iy]+able",
            r"client host rejected",
            r"message rejected",
            r"not verified",
            r"identities failed",
            r"sender (?:address |domain )?(?:rejected|denied|refused|unknown|invalid|verify)",
            r"(?:domain|address) of sender",
            r"sender .{0,60}does not exist",
            r"from:? (?:domain|address) is (?:invalid|not valid)",
            r"valid from",
            r"service refus",
            r"refused to talk",
            r"virus",
            r"malware",
            r"content (?:rejected|filter)",
            r"message content",
            r"headers? too (?:large|long)",
            r"not accepted due to",
            r"permission to post",
            r"not a member",
            r"members only",
        ],
    ),
    (
        HARD_BOUNCE,  # the domain has no mail host: no filter says this
        [
            r"host unknown",
            r"unknown host",
            r"host (?:or domain name )?not found",
            r"host \S+ not found",
            r"domain (?:name )?(?:not found|is not reachable|does not exist)",
            r"no such domain",
            r"domain.{0,20}unknown",
            r"illegal (?:host|domain)",
            r"no mx",
            r"null mx",
            r"name or service not known",
            r"nxdomain",
            r"not accepting (?:network )?(?:messages|mail)",
            r"does not accept mail",
        ],
    ),
    (
        HARD_BOUNCE,  # the provider's own words for "no such account": never a filter's
        [
            r"doesn't have an? .{1,40}account",
            r"name is not recognized",
            r"no longer (?:available|active|exists)",
            r"check (?:if|that|whether) (?:the )?(?:e-?mail )?address is (?:correct|valid)",
            # InterScan MSS: its one wording for a recipient the server refused
            r"unable to deliver message to .{1,80}\(and other recipients in the same domain\)",
        ],
    ),
    (
        HARD_BOUNCE,  # generic "no such user": a filter's verdict when said after DATA
        [
            r"user ?unknown",
            r"unknown (?:user|recipient|mailbox|address)",
            r"no such (?:user|mailbox|recipient|address|account|person)",
            r"(?:does not|doesn't|did not|does no longer) exist",
            r"(?:invalid|unknown|bad|unavailable)\b.{0,20}\b(?:recipient|mailbox|userid|user|"
            r"address)\b",
            r"recipient (?:not found|unknown|invalid)",
            r"mailbox (?:not found|unavailable)",
            r"not (?:a )?(?:valid|known) (?:user|recipient|mailbox)",
            r"no mailbox",
            r"addressee unknown",
            r"unrouteable address",
            r"user not found",
            r"recipient address rejected: (?:access denied|invalid|unknown|user)",
        ],
    ),
]
TEXT_RULES: list[tuple[re.Pattern[str], Outcome]] = [
    (re.compile(pattern, re.DOTALL), outcome)
    for outcome, patterns in RULE_GROUPS
    for pattern in patterns
]


def _required_literal(pattern: re.Pattern[str]) -> str:
    """The longest run of plain characters every match of `pattern` must contain.

    A substring test (`in`) is many times faster than a regex scan, so a rule whose literal
    is absent from the text is skipped without running its regex. Only top-level literal
    runs count (nothing inside groups, alternations or optional parts), so skipping is
    always safe.
    """
    best = run = ""
    for op, arg in re._parser.parse(pattern.pattern):  # type: ignore[attr-defined]
        if op is re._constants.LITERAL:  # type: ignore[attr-defined]
            run += chr(arg)
            best = max(best, run, key=len)
        else:
            run = ""
    return best if len(best) >= 3 else ""


_LITERALS = {pattern: _required_literal(pattern) for pattern, _ in TEXT_RULES}
# The first groups (full, disabled, recipient's filter, our message's format or size, rate
# limits) decide whatever the code says.
_DECISIVE_RULES = sum(len(patterns) for _, patterns in RULE_GROUPS[:5])
# "No such user" texts (not "no such domain"): after DATA they are a filter's verdict.
_MAILBOX_UNKNOWN = frozenset(pattern for pattern, _ in TEXT_RULES[-len(RULE_GROUPS[-1][1]) :])
_RECIPIENT_UNKNOWN_RULES = TEXT_RULES[-len(RULE_GROUPS[-1][1]) - len(RULE_GROUPS[-2][1]) :]
NO_MAIL_ACCEPTED = re.compile(
    r"(?:host|domain)(?:/domain)? does not accept mail|not accepting network messages"
)
# The SMTP command a refusal answered (see point 2 above).
RCPT_STAGE = re.compile(r"(?:in reply to|after|>>>) ?rcpt to")
SENDER_STAGE = re.compile(
    r"after (?:initial connection|connect|ehlo|helo|mail from)|"
    r"in reply to (?:mail from|ehlo|helo)|>>> mail from|refused to talk to me|greeting"
)
DATA_STAGE = re.compile(
    r"(?:in reply to|after) (?:end of |final )?data|>>> data|smtp command:? data|command data|"
    r"filtering gateway"
)
_REMOTE_MTA = re.compile(r"\(remote-mta: [^)]*\)")


def classify(event: Event) -> Outcome:
    if event.type is EventType.BOUNCE:
        if event.gateway_code is not None:
            # An SMS gateway's code: its documented table decides (SPEC 8). Imported here
            # because the tables are built from this module's Outcome and Category.
            from bounce_worker.domain.sms_codes import classify_code

            return classify_code(event.gateway_code)
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
    text = diagnostic.lower() if diagnostic else ""
    if "(remote-mta:" in text:
        text = _REMOTE_MTA.sub("", text)
    if not text.isascii():
        # Every pattern is ASCII; matching on a narrow string is faster.
        text = text.encode("ascii", "ignore").decode("ascii")

    # 1. unambiguous texts (the first rules of TEXT_RULES)
    decisive = _first_match(text, TEXT_RULES[:_DECISIVE_RULES])
    if decisive is not None:
        return decisive
    # 2. the SMTP stage
    if klass in (4, 5) and SENDER_STAGE.search(text):
        return POLICY
    if permanent and subject != 1 and DATA_STAGE.search(text):
        pattern, _ = _first_rule(text, TEXT_RULES[_DECISIVE_RULES:])
        if pattern in _MAILBOX_UNKNOWN:
            return POLICY
    if permanent and NO_MAIL_ACCEPTED.search(text):
        # RFC 7504/7505 wording for a domain that takes no mail at all (Sendmail reports a
        # null MX as "550 5.7.27 Host does not accept mail"): the address can never work.
        return HARD_BOUNCE
    # 3. specific status codes
    if subject is not None and (subject, detail) in ANY_CLASS_STATUS:
        return ANY_CLASS_STATUS[(subject, detail)]
    # X.7.0/X.7.1 ("not authorized") is many servers' catch-all; refused at RCPT TO in
    # words naming the recipient as unknown, it is the recipient that was refused.
    if (
        permanent
        and subject == 7
        and detail in (0, 1)
        and RCPT_STAGE.search(text)
        and _first_match(text, _RECIPIENT_UNKNOWN_RULES) is not None
    ):
        return HARD_BOUNCE
    if subject in (6, 7):
        return POLICY
    if permanent and (subject, detail) in PERMANENT_STATUS:
        return PERMANENT_STATUS[(subject, detail)]
    # 4. the text, when the code leaves the question open
    if subject is None or subject in WEAK_SUBJECTS or detail == 0:
        _, text_outcome = _first_rule(text, TEXT_RULES[_DECISIVE_RULES:])
        if text_outcome is HARD_BOUNCE and not permanent:
            return SOFT_BOUNCE
        if text_outcome is not None:
            return text_outcome
    # 5. what the code alone says
    if (subject, detail) == (2, 1):
        return MAILBOX_DISABLED
    if subject in (None, 0) and smtp_code == 552:
        return MAILBOX_FULL
    return SOFT_BOUNCE


def _first_match(text: str, rules: list[tuple[re.Pattern[str], Outcome]]) -> Outcome | None:
    return _first_rule(text, rules)[1]


def _first_rule(
    text: str, rules: list[tuple[re.Pattern[str], Outcome]]
) -> tuple[re.Pattern[str] | None, Outcome | None]:
    literals = _LITERALS
    for pattern, outcome in rules:
        literal = literals.get(pattern)
        if literal and literal not in text:
            continue
        if pattern.search(text):
            return pattern, outcome
    return None, None


def match_text(diagnostic: str | None) -> Outcome | None:
    """First TEXT_RULES outcome matching the (lower-cased) diagnostic, or None."""
    if not diagnostic:
        return None
    text = diagnostic if diagnostic.islower() else diagnostic.lower()
    for pattern, outcome in TEXT_RULES:
        if pattern.search(text):
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
