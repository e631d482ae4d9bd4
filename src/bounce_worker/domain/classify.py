"""Event -> Outcome (SPEC section 3): what kind of feedback this is, and why.

The knowledge lives in data modules (`domain/rules/`): the reason vocabulary, what each
enhanced status code says, the SMTP-stage wordings and the MTAs' and providers' diagnostic
wordings, each with its source. This module applies them in the order of the evidence,
strongest first:

1. Wordings that decide whatever code the server attached (stage `overrides_code`): a full
   system or mailbox, a disabled mailbox, the recipient's own filter, our message's size or
   format, a rate limit, a TLS requirement or a receiver's temporary fault (Gmail's 4.7.0/5.7.0
   texts). Servers send these with any code (qmail's "over quota (#5.1.1)").
   One exception: a "disabled" wording does not override a permanent X.1.x address code,
   which says more (the address is bad, e.g. "5.1.1 ... deactivated").
2. The SMTP stage the server refused at (`rules.smtp_stages`). A refusal after connect, EHLO
   or MAIL FROM is about the sender: policy. A "user unknown" in reply to DATA comes after
   the server accepted the recipient at RCPT TO: a content filter's verdict, policy (unless
   the server said X.1.x itself). A domain that accepts no mail (RFC 7504/7505) is hard.
3. The code when it is specific (`rules.status_codes`): DECIDES_ANY_CLASS, then
   DECIDES_WHEN_PERMANENT with class 5 (X.1.x, RFC 7293 X.7.17/X.7.18), then X.6.x/X.7.x
   policy (X.7.0/X.7.1 refusing a recipient in words that it does not exist is hard: a
   catch-all code with a telling text).
4. The wordings that decide for generic codes (stage `when_code_is_weak`): X.0.0, X.y.0, the
   HINTS codes, 4.x.x address codes, no code at all. A mailbox reason on a transient (4.x.x)
   failure is a soft bounce that keeps its reason.
5. What the code alone hints (HINTS), a basic reply code's RFC 5321 text (REPLY_CODE_HINTS:
   552 "exceeded storage allocation", 452 "insufficient system storage", 421/451), else an
   undefined soft bounce.

Patterns run on the lower-cased ASCII diagnostic (case-insensitive regexes with long
alternations are several times slower), and a rule whose required literal is absent from the
text is skipped without running its regex (for an alternation: when none of its branches'
literals is there); a rule that is a plain literal matches on the substring test alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from bounce_worker.domain.events import Event, EventType
from bounce_worker.domain.literal_scan import LiteralScan
from bounce_worker.domain.rules import OVERRIDES_CODE, WHEN_CODE_IS_WEAK, WordingGroup
from bounce_worker.domain.rules import reasons as _reasons
from bounce_worker.domain.rules import smtp_stages as _stages
from bounce_worker.domain.rules import status_codes as _codes
from bounce_worker.domain.rules.wordings import GROUPS, NON_ASCII_EQUIVALENTS


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
    RECORDED = "recorded"  # unverified or unattributed feedback (SPEC 7): history row only


@dataclass(frozen=True, slots=True)
class Outcome:
    category: Category
    reason: str  # the reason code written on the transition
    # The fine reason (rules.reasons.REASONS) of a bounce; "" for other feedback.
    detail: str = ""


HARD_BOUNCE = Outcome(Category.HARD_BOUNCE, "hard_bounce", "user_unknown")
MAILBOX_FULL = Outcome(Category.MAILBOX_FULL, "mailbox_full", "mailbox_full")
MAILBOX_DISABLED = Outcome(Category.MAILBOX_FULL, "mailbox_disabled", "suspended")
SOFT_BOUNCE = Outcome(Category.SOFT_BOUNCE, "soft_bounce", "undefined")
POLICY = Outcome(Category.POLICY, "policy_rejection", "policy_violation")
COMPLAINT = Outcome(Category.COMPLAINT, "complaint")
UNSUBSCRIBE = Outcome(Category.UNSUBSCRIBE, "unsubscribe")
DELIVERED = Outcome(Category.DELIVERED, "delivered")
OPT_IN = Outcome(Category.OPT_IN, "opt_in")
IGNORED_FEEDBACK = Outcome(Category.IGNORED, "feedback_not_complaint")

# ARF (RFC 5965) feedback types that are complaints about the recipient receiving mail.
# None: an ESP complaint event, which carries no type.
COMPLAINT_FEEDBACK_TYPES = frozenset({None, "abuse", "fraud", "virus", "other", "complaint"})

# The transition reason of each bounce category (SPEC 3); a disabled mailbox has its own.
_TRANSITION_REASON = {
    Category.HARD_BOUNCE: "hard_bounce",
    Category.MAILBOX_FULL: "mailbox_full",
    Category.SOFT_BOUNCE: "soft_bounce",
    Category.POLICY: "policy_rejection",
}
_CATEGORY = {
    _reasons.HARD: Category.HARD_BOUNCE,
    _reasons.FULL: Category.MAILBOX_FULL,
    _reasons.SOFT: Category.SOFT_BOUNCE,
    _reasons.POLICY: Category.POLICY,
}


def _make(detail: str, category: Category | None = None) -> Outcome:
    category = category or _CATEGORY[_reasons.REASONS[detail][0]]
    reason = "mailbox_disabled" if detail == "suspended" else _TRANSITION_REASON[category]
    return Outcome(category, reason, detail)


# One Outcome per (reason, category): built once, shared (classify runs per event).
_OUTCOMES: dict[tuple[str, Category | None], Outcome] = {}


def outcome_for(detail: str, *, permanent: bool = True, policy: bool = False) -> Outcome:
    """The Outcome of a fine reason; a hard reason on a transient failure is soft."""
    category: Category | None = None
    if policy:
        category = Category.POLICY
    elif not permanent and _reasons.REASONS[detail][0] == _reasons.HARD:
        category = Category.SOFT_BOUNCE
    key = (detail, category)
    found = _OUTCOMES.get(key)
    if found is None:
        found = _OUTCOMES[key] = _make(detail, category)
    return found


# -- compiled wording rules ---------------------------------------------------------------
# regex, required literal, its group, alternative literals (one of which every match
# contains, when there is no single one), whether the pattern is that literal alone
_Rule = tuple[re.Pattern[str], str, WordingGroup, tuple[str, ...], bool]


def _literal_run(items: Iterable[tuple[object, object]]) -> str:
    """The longest run of plain characters at the top level of a parsed pattern."""
    best = run = ""
    for op, arg in items:
        if op is re._constants.LITERAL:  # type: ignore[attr-defined]
            run += chr(arg)  # type: ignore[arg-type]
            best = max(best, run, key=len)
        else:
            run = ""
    return best


def _required_literal(pattern: re.Pattern[str]) -> str:
    """The longest run of plain characters every match of `pattern` must contain.

    A substring test (`in`) is many times faster than a regex scan, so a rule whose literal
    is absent from the text is skipped without running its regex. Only top-level literal
    runs count (nothing inside groups, alternations or optional parts), so skipping is
    always safe.
    """
    best = _literal_run(re._parser.parse(pattern.pattern))  # type: ignore[attr-defined]
    return best if len(best) >= 3 else ""


def _alternative_literals(pattern: re.Pattern[str]) -> tuple[str, ...]:
    """For a pattern with no single required literal: literals one of which every match
    contains, from a top-level alternation ("a|b|c") or a mandatory group of alternatives
    ("(?:account|mailbox) is disabled"), each branch with a plain run of 3+ characters;
    () when there are none (the regex then runs on every text)."""
    constants = re._constants  # type: ignore[attr-defined]
    parsed = re._parser.parse(pattern.pattern)  # type: ignore[attr-defined]
    candidates = []
    for op, arg in parsed:  # (a non-capturing group's alternation sits at the top level)
        if op is constants.SUBPATTERN:
            inner = list(arg[-1])
            if len(inner) == 1 and inner[0][0] is constants.BRANCH:
                op, arg = inner[0]
        if op is constants.BRANCH:
            runs = tuple(_literal_run(branch) for branch in arg[1])
            if all(len(r) >= 3 for r in runs):
                candidates.append(runs)
    # the most selective: the alternation whose shortest literal is the longest
    return max(candidates, key=lambda runs: min(map(len, runs)), default=())


class _Rules(list[_Rule]):
    """Rules in order, and the scan that finds which of their prefilter literals a text
    holds in one pass (literal_scan.py). A subset of a list (the policy, user-unknown and
    relay rules, the leave-one-family-out tables) shares its list's scan."""

    def __init__(self, rules: Iterable[_Rule], scan: LiteralScan | None = None) -> None:
        super().__init__(rules)
        self.scan = scan or LiteralScan(p for r in self for p in (r[1], *r[3]))
        self.by_literal: dict[str, list[int]] = {}
        self.always: list[int] = []  # rules with no prefilter: their regex always runs
        for i, (_regex, literal, _group, alternatives, _exact) in enumerate(self):
            for piece in (literal,) if literal else alternatives:
                self.by_literal.setdefault(piece, []).append(i)
            if not literal and not alternatives:
                self.always.append(i)


def _compile(groups: list[WordingGroup]) -> list[_Rule]:
    rules = []
    for group in groups:
        for wording in group.wordings:
            regex = re.compile(wording.pattern, re.DOTALL)
            literal = _required_literal(regex)
            alternatives = () if literal else _alternative_literals(regex)
            exact = bool(literal) and literal == wording.pattern
            rules.append((regex, literal, group, alternatives, exact))
    return rules


_OVERRIDING = _compile([g for g in GROUPS if g.stage == OVERRIDES_CODE])
_WEAK = _compile([g for g in GROUPS if g.stage == WHEN_CODE_IS_WEAK])
# One scan for both tables: classify_bounce reads a diagnostic's literals once for all the
# lookups it makes (the overriding wordings, then often the weak-code ones).
_SCAN = LiteralScan(p for r in (*_OVERRIDING, *_WEAK) for p in (r[1], *r[3]))
OVERRIDING_RULES = _Rules(_OVERRIDING, _SCAN)
WEAK_CODE_RULES = _Rules(_WEAK, _SCAN)
_POLICY_RULES = _Rules(
    (r for r in WEAK_CODE_RULES if _reasons.REASONS[r[2].detail][0] == "policy"),
    WEAK_CODE_RULES.scan,
)
# "No such user" in the generic words any filter may use (not a provider's own wording).
_GENERIC_UNKNOWN = "mailbox_does_not_exist"
_PROVIDER_UNKNOWN = "recipient_not_in_directory"
_UNKNOWN_RULES = _Rules(
    (r for r in WEAK_CODE_RULES if r[2].detail == "user_unknown"), WEAK_CODE_RULES.scan
)
_REMOTE_MTA = re.compile(r"\(remote-mta: [^)]*\)")
_RELAY_RULES = _Rules(
    (r for r in WEAK_CODE_RULES if r[2].name == "relay_denied"), WEAK_CODE_RULES.scan
)


def _prepare(diagnostic: str | None) -> str:
    """The diagnostic as the wording rules read it: lower-cased ASCII, no remote-MTA note."""
    text = diagnostic.lower() if diagnostic else ""
    if "(remote-mta:" in text:
        text = _REMOTE_MTA.sub("", text)
    if not text.isascii():
        # Every pattern is ASCII; matching on a narrow string is faster. A documented
        # non-ASCII wording is kept as its English equivalent.
        for phrase, (english, _) in NON_ASCII_EQUIVALENTS.items():
            if phrase in text:
                text = f"{text} {english}"
        text = text.encode("ascii", "ignore").decode("ascii")
    return text


def matching_wordings(diagnostic: str | None) -> set[str]:
    """Every wording pattern (of any group) that matches the diagnostic: the evidence the
    leave-one-family-out check of bench/corpus_accuracy.py counts per mail family."""
    text = _prepare(diagnostic)
    return {
        regex.pattern
        for regex, literal, *_ in (*OVERRIDING_RULES, *WEAK_CODE_RULES)
        if (not literal or literal in text) and regex.search(text)
    }


@contextmanager
def without_wordings(patterns: Iterable[str]) -> Iterator[None]:
    """Classify as if the wordings `patterns` had never been written (the bench's
    leave-one-family-out check); the full tables are back on exit. Not thread-safe: for
    measurements only."""
    global OVERRIDING_RULES, WEAK_CODE_RULES, _POLICY_RULES, _UNKNOWN_RULES
    saved = OVERRIDING_RULES, WEAK_CODE_RULES, _POLICY_RULES, _UNKNOWN_RULES
    drop = set(patterns)
    OVERRIDING_RULES, WEAK_CODE_RULES, _POLICY_RULES, _UNKNOWN_RULES = (
        _Rules((r for r in rules if r[0].pattern not in drop), rules.scan) for rules in saved
    )
    try:
        yield
    finally:
        OVERRIDING_RULES, WEAK_CODE_RULES, _POLICY_RULES, _UNKNOWN_RULES = saved


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
    key = (subject, detail) if subject is not None else None
    text = _prepare(diagnostic)
    found = _SCAN.present(text)  # the rules' literals in the text, for every lookup below

    # 1. wordings that decide whatever the code
    group = _first_group(text, OVERRIDING_RULES, found)
    if group is not None and not (
        group.detail == "suspended" and permanent and subject == 1 and detail != 0
    ):
        return outcome_for(group.detail)
    # 2. the SMTP stage
    if (
        klass in (4, 5)
        and _stages.SENDER_STAGE.search(text)
        and not _stages.NO_REPLY_AT_STAGE.search(text)
    ):
        size = _stages.size_refusal(key, smtp_code)
        if size is not None:
            # RFC 1870: a server refuses a too big message in reply to MAIL FROM SIZE=
            return outcome_for(size)
        return outcome_for(_policy_detail(text, key, "blocked", found), policy=True)
    if permanent and subject != 1 and _stages.DATA_STAGE.search(text):
        weak = _first_group(text, WEAK_CODE_RULES, found)
        if weak is not None and weak.name == _GENERIC_UNKNOWN:
            return outcome_for("filtered", policy=True)
    if permanent and (
        _stages.NO_MAIL_ACCEPTED.search(text)
        or _stages.NO_SMTP_SERVICE in text
        or (smtp_code in _stages.NO_MAIL_REPLY_CODES and _stages.RCPT_STAGE.search(text))
    ):
        return outcome_for("no_mail_accepted")
    # 3. specific status codes
    if key in _codes.DECIDES_ANY_CLASS:
        return outcome_for(_codes.DECIDES_ANY_CLASS[key])
    if permanent and key in _codes.DECIDES_WHEN_PERMANENT:
        if subject == 1 and "relay" in text and _first_group(text, _RELAY_RULES, found) is not None:
            # "550 5.1.1 Relaying denied": the server is no destination for that domain
            # (Sendmail/Postfix relay refusals), which says nothing about the mailbox.
            return outcome_for("relay_denied", policy=True)
        if key in _codes.SHARED_HARD_CODES:
            # One code, two documented meanings (X.1.10: RFC 7505 null MX, and Microsoft
            # 365's "recipient not found"): the text says which.
            weak = _first_group(text, WEAK_CODE_RULES, found)
            if weak is not None and _reasons.REASONS[weak.detail][0] == _reasons.HARD:
                return outcome_for(weak.detail)
        return outcome_for(_codes.DECIDES_WHEN_PERMANENT[key])
    if subject in _codes.POLICY_SUBJECTS:
        if permanent and key in ((7, 0), (7, 1)) and _refuses_unknown_recipient(text, found):
            return outcome_for("user_unknown")
        return outcome_for(_policy_detail(text, key, _codes.POLICY_DEFAULT, found), policy=True)
    # 4. the wordings, when the code leaves the question open
    weak = _first_group(text, WEAK_CODE_RULES, found)
    if weak is not None:
        return outcome_for(weak.detail, permanent=permanent)
    # 5. what the code alone says
    hint = _codes.HINTS.get(key) or _codes.DECIDES_WHEN_PERMANENT.get(key)  # type: ignore[arg-type]
    if hint is not None:
        return outcome_for(hint, permanent=permanent)
    if subject in (None, 0) and smtp_code in _codes.REPLY_CODE_HINTS:
        # RFC 5321's text of a basic reply code (552 "exceeded storage allocation", ...)
        return outcome_for(_codes.REPLY_CODE_HINTS[smtp_code])
    return SOFT_BOUNCE


def _refuses_unknown_recipient(text: str, found: set[str] | None = None) -> bool:
    """X.7.0/X.7.1 is many servers' catch-all ("not authorized"): refusing a recipient at
    RCPT TO in words that it is unknown (Postfix, Exim), or in a provider's own wording for
    "no such account" (Yandex "5.7.1 No such user!"), it is the recipient that was refused.
    Generic "user unknown" words without the stage may be a filter's: policy."""
    if _stages.RCPT_STAGE.search(text) and _first_group(text, _UNKNOWN_RULES, found) is not None:
        return True
    weak = _first_group(text, WEAK_CODE_RULES, found)
    return weak is not None and weak.name == _PROVIDER_UNKNOWN


def _policy_detail(
    text: str, key: tuple[int, int] | None, default: str, found: set[str] | None = None
) -> str:
    """The fine reason of a policy refusal: the code's own, else the text's, else default."""
    if key in _codes.POLICY_DETAILS:
        return _codes.POLICY_DETAILS[key]  # type: ignore[index]
    group = _first_group(text, _POLICY_RULES, found)
    return group.detail if group is not None else default


def _first_group(text: str, rules: _Rules, present: set[str] | None = None) -> WordingGroup | None:
    # The rules whose literal (or one of whose alternatives) the text holds, in order.
    # (`present`: what rules.scan.present(text) gives, when the caller has it already.)
    if present is None:
        present = rules.scan.present(text)
    by_literal = rules.by_literal
    candidates = {i for piece in present for i in by_literal.get(piece, ())}
    candidates.update(rules.always)
    for i in sorted(candidates):
        regex, _literal, group, _alternatives, exact = rules[i]
        if exact or regex.search(text):  # (exact: the pattern is its literal: found)
            return group
    return None


def match_text(diagnostic: str | None) -> Outcome | None:
    """The outcome of the first wording (any stage, in evidence order) in the diagnostic."""
    if not diagnostic:
        return None
    text = diagnostic.lower()
    group = _first_group(text, OVERRIDING_RULES) or _first_group(text, WEAK_CODE_RULES)
    return outcome_for(group.detail) if group is not None else None


def _split_status(status: str | None) -> tuple[int | None, int | None, int | None]:
    if not status:
        return None, None, None
    try:
        klass, subject, detail = (int(p) for p in status.split("."))
    except ValueError:
        return None, None, None
    return klass, subject, detail
