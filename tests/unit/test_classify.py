"""SPEC section 3 classification of bounces, row by row, on (status, code, diagnostic)."""

from __future__ import annotations

import pytest

from bounce_worker.domain import classify as c
from bounce_worker.domain.classify import Category, classify_bounce


@pytest.mark.parametrize(
    ("status", "code", "diagnostic", "category"),
    [
        # hard: X.1.1 / X.1.2 / X.1.10, or 5xx saying the user/domain does not exist
        (
            "5.1.1",
            550,
            "550 5.1.1 <a@example.org>: Recipient address rejected: User unknown",
            Category.HARD_BOUNCE,
        ),
        ("5.1.2", 550, "Host or domain name not found", Category.HARD_BOUNCE),
        ("5.1.10", 556, "Recipient address has null MX", Category.HARD_BOUNCE),
        ("5.0.0", 550, "550 No such user here", Category.HARD_BOUNCE),
        (None, 550, "550 sorry, no mailbox here by that name", Category.HARD_BOUNCE),
        ("5.2.1", 550, "550 5.2.1 <a@example.org>... User Unknown", Category.HARD_BOUNCE),
        ("5.4.4", None, "Host or domain name not found. Name service error", Category.HARD_BOUNCE),
        ("5.7.27", 550, "550 Host does not accept mail", Category.HARD_BOUNCE),
        # 4.x.x is never hard
        ("4.1.1", 450, "450 4.1.1 user unknown", Category.SOFT_BOUNCE),
        ("4.0.0", 451, "451 temporary: user unknown", Category.SOFT_BOUNCE),
        # mailbox full / disabled: escalating temporary block
        ("5.2.2", 552, "552 5.2.2 Mailbox full", Category.MAILBOX_FULL),
        ("4.2.2", 452, "452 4.2.2 Over quota", Category.MAILBOX_FULL),
        (None, 552, "552 sorry", Category.MAILBOX_FULL),
        (
            "5.1.1",
            552,
            "552 mailbox kijitora is over quota temporarily (#5.1.1)",
            Category.MAILBOX_FULL,
        ),
        ("5.2.1", 550, "550 5.2.1 account disabled", Category.MAILBOX_FULL),
        ("5.7.13", 525, "525 5.7.13 Disabled recipient address", Category.MAILBOX_FULL),
        # policy: the sender's problem, never suppresses
        (
            "5.7.1",
            554,
            "554 5.7.1 Service unavailable; Client host blocked using zen.spamhaus.org",
            Category.POLICY,
        ),
        (
            "5.7.26",
            550,
            "550-5.7.26 Unauthenticated email is not accepted due to DMARC policy",
            Category.POLICY,
        ),
        ("5.1.8", 553, "553 5.1.8 Domain of sender address does not exist", Category.POLICY),
        (
            "5.0.0",
            550,
            "SMTP error from remote mail server after MAIL FROM:<x@y.example>: 550 rejected",
            Category.POLICY,
        ),
        (
            "5.0.0",
            550,
            "550 Unknown user x@example.org (in reply to end of DATA command)",
            Category.POLICY,
        ),
        ("5.1.1", 550, "550 5.1.1 Refused due to recipient preferences", Category.POLICY),
        ("4.0.0", 554, "554 Blocked - see https://dnsbl.example/lookup", Category.POLICY),
        ("5.6.0", 552, "552 5.6.0 Headers too large", Category.POLICY),
        # ...but X.7.1 refused at RCPT TO in words naming the recipient unknown is hard
        (
            "5.7.1",
            554,
            "after RCPT TO:<a@example.org>: 554 5.7.1 Recipient address rejected: Access denied",
            Category.HARD_BOUNCE,
        ),
        # soft: transient, rate limits, our message's format or size
        ("4.4.1", 421, "421 4.4.1 Connection timed out", Category.SOFT_BOUNCE),
        ("4.7.0", 421, "421 4.7.0 Too many connections, try again later", Category.SOFT_BOUNCE),
        ("5.7.1", 550, "550-5.7.1 This message is not RFC 5322 compliant", Category.SOFT_BOUNCE),
        (
            "5.3.4",
            552,
            "552 5.3.4 Message size exceeds fixed maximum message size",
            Category.SOFT_BOUNCE,
        ),
        (None, None, None, Category.SOFT_BOUNCE),
    ],
)
def test_bounce_classification(status, code, diagnostic, category):
    assert classify_bounce(status, code, diagnostic).category is category


def test_outcome_constants_and_reasons_are_stable():
    assert c.HARD_BOUNCE.reason == "hard_bounce"
    assert c.MAILBOX_DISABLED.category is Category.MAILBOX_FULL
    assert c.POLICY.reason == "policy_rejection"
    assert c.match_text("550 user unknown") == c.HARD_BOUNCE
    assert c.match_text(None) is None


def test_remote_mta_annotation_is_not_read_as_the_reason():
    diag = "550 5.0.0 mailbox unavailable (remote-mta: spam-filter.example.org)"
    assert classify_bounce("5.0.0", 550, diag).category is Category.HARD_BOUNCE


@pytest.mark.parametrize(
    ("status", "code", "diagnostic", "category", "detail"),
    [
        # Microsoft 365 directory-based edge blocking: 5.4.1 "Access denied" = no such user
        (
            "5.4.1",
            550,
            "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)",
            Category.HARD_BOUNCE,
            "user_unknown",
        ),
        ("5.4.1", 550, "550 5.4.1 Relay Access Denied", Category.POLICY, "relay_denied"),
        # RFC 3463 X.4.4 with class 5: the domain does not route (MS365 NonExistentDomain)
        (
            "5.4.4",
            550,
            "550 5.4.4 SMTPSEND.DNS.NonExistentDomain",
            Category.HARD_BOUNCE,
            "host_unknown",
        ),
        ("4.4.4", 450, "450 4.4.4 unable to route", Category.SOFT_BOUNCE, "host_unknown"),
        # the system is full, not the mailbox (RFC 3463 X.3.1, Sendmail/Postfix 4.3.1)
        (
            "4.3.1",
            452,
            "452 4.3.1 Insufficient system storage",
            Category.SOFT_BOUNCE,
            "system_full",
        ),
        (
            "5.0.0",
            550,
            "550 too many messages on the server for this user",
            Category.MAILBOX_FULL,
            "mailbox_full",
        ),
        # size wording beats an address code (a property of the message)
        (
            "5.1.1",
            552,
            "552 5.1.1 message size exceeds the limit",
            Category.SOFT_BOUNCE,
            "message_too_big",
        ),
        ("5.2.3", 552, "552 5.2.3 sorry", Category.SOFT_BOUNCE, "message_too_big"),
        # generic codes with telling texts: directory lookups and provider wordings
        (
            "5.0.0",
            550,
            "User kijitora not listed in Domino Directory",
            Category.HARD_BOUNCE,
            "user_unknown",
        ),
        ("5.0.0", 550, "550 BAD_RECIPIENT", Category.HARD_BOUNCE, "user_unknown"),
        (
            "5.0.0",
            550,
            "550 No mail box available for this user",
            Category.HARD_BOUNCE,
            "user_unknown",
        ),
        (
            "5.1.1",
            550,
            "550 5.1.1 x@example.org is a deactivated mailbox",
            Category.HARD_BOUNCE,
            "user_unknown",
        ),
        (
            "5.0.0",
            550,
            "550 x@example.org is not an active address",
            Category.HARD_BOUNCE,
            "user_unknown",
        ),
        ("5.7.1", 550, "550 5.7.1 No such user!", Category.HARD_BOUNCE, "user_unknown"),
        (
            "5.1.1",
            550,
            "550 5.1.1 <x@example.net> Not our Customer",
            Category.HARD_BOUNCE,
            "user_unknown",
        ),
        # 4.x.x saying the user does not exist: soft, but the reason is kept
        (
            "4.1.1",
            450,
            "450 4.1.1 <x@example.org>: Recipient address rejected: "
            "User unknown in local recipient table",
            Category.SOFT_BOUNCE,
            "user_unknown",
        ),
        # a disabled mailbox (Gmail 5.2.1), and RFC 7293 owner change
        (
            "5.2.1",
            550,
            "550 5.2.1 The email account that you tried to reach is disabled.",
            Category.MAILBOX_FULL,
            "suspended",
        ),
        ("5.7.17", 550, "550 5.7.17 Mailbox owner has changed", Category.HARD_BOUNCE, "has_moved"),
        # RFC 7504: 521 to RCPT TO, the host accepts no mail at all
        (
            "5.3.2",
            521,
            "did not like our RCPT TO: 521 5.3.2 System not accepting network messages",
            Category.HARD_BOUNCE,
            "no_mail_accepted",
        ),
        (
            "4.3.2",
            421,
            "421 4.3.2 System not accepting network messages",
            Category.SOFT_BOUNCE,
            "system_error",
        ),
        # fine reasons of policy refusals
        ("5.7.26", 550, "550 5.7.26 Unauthenticated email", Category.POLICY, "auth_failure"),
        (
            "5.7.1",
            554,
            "554 5.7.1 Client host blocked using zen.spamhaus.org",
            Category.POLICY,
            "blocked",
        ),
        ("5.7.1", 550, "550 5.7.1 message looks like spam", Category.POLICY, "spam_detected"),
        ("4.4.7", None, "message expired", Category.SOFT_BOUNCE, "expired"),
        ("4.4.1", 421, "421 4.4.1 Connection timed out", Category.SOFT_BOUNCE, "network_error"),
        (
            "4.2.0",
            450,
            "450 4.2.0 Greylisted, see http://postgrey.schweikert.ch/help",
            Category.SOFT_BOUNCE,
            "rate_limited",
        ),
    ],
)
def test_fine_reason(status, code, diagnostic, category, detail):
    outcome = classify_bounce(status, code, diagnostic)
    assert (outcome.category, outcome.detail) == (category, detail)


def test_every_rule_group_is_documented_and_names_a_known_reason():
    from bounce_worker.domain.rules import STAGES, reasons, status_codes, wordings

    names = [g.name for g in wordings.GROUPS]
    assert len(names) == len(set(names))
    for group in wordings.GROUPS:
        assert group.stage in STAGES
        assert group.detail in reasons.REASONS
        assert all(w.source.strip() for w in group.wordings), group.name
    tables = (
        status_codes.DECIDES_ANY_CLASS,
        status_codes.DECIDES_WHEN_PERMANENT,
        status_codes.HINTS,
        status_codes.POLICY_DETAILS,
    )
    assert all(d in reasons.REASONS for table in tables for d in table.values())
    assert 20 <= len(reasons.REASONS) <= 35


def test_transition_reason_follows_the_category():
    assert classify_bounce("5.2.1", 550, "account disabled").reason == "mailbox_disabled"
    assert classify_bounce("5.2.2", 552, "full").reason == "mailbox_full"
    assert classify_bounce("5.7.1", 554, "spam").reason == "policy_rejection"


def test_the_literal_prefilter_never_skips_a_matching_rule():
    # The classifier skips a rule whose required literal (or every one of its alternative
    # literals) is absent, and takes a pure-literal rule as matched on the literal alone: it
    # must pick the same group as running every regex in order would.
    from bounce_worker.domain import classify as c

    rules = [*c.OVERRIDING_RULES, *c.WEAK_CODE_RULES]
    texts = []
    for _regex, literal, _, alternatives, _ in rules:
        for piece in (literal, *alternatives):
            if piece:
                texts.append(f"550 5.0.0 <kim@example.org>: {piece} (in reply to RCPT TO)")
    texts += [
        "550 5.1.1 the account is disabled",
        "554 invalid helo name",
        "550 unknown address kim@example.org",
        "452 4.2.2 mailbox over quota",
        "421 4.7.0 tls required for rcpt domain",
    ]

    def naive(text: str, rules: list) -> object:
        return next((r[2] for r in rules if r[0].search(text)), None)

    for text in texts:
        low = text.lower()
        for table in (c.OVERRIDING_RULES, c.WEAK_CODE_RULES):
            assert c._first_group(low, table) is naive(low, table), text


@pytest.mark.parametrize(
    ("status", "code", "stage", "detail"),
    [
        ("5.1.1", 550, "MAIL FROM:<me@sender.example> SIZE=1234", "blocked"),
        ("5.0.0", 550, "DATA", "filtered"),
        ("5.7.1", 550, "RCPT TO:<kim@example.net>", "user_unknown"),
    ],
)
def test_exim_pipelined_commands_are_the_same_stage(status, code, stage, detail):
    # Exim transports/smtp.c check_response(): "SMTP error from remote mail server after
    # %s%s: %s" with "pipelined " before the command when it went in a PIPELINING batch.
    for words in ("after", "after pipelined"):
        diagnostic = f"SMTP error from remote mail server {words} {stage}: {code} user unknown"
        assert classify_bounce(status, code, diagnostic).detail == detail, words


@pytest.mark.parametrize(
    ("status", "code", "diagnostic", "category", "detail"),
    [
        # RFC 1870 6.1: "552 message size exceeds fixed maximium message size" in reply to
        # MAIL FROM ... SIZE=n; Sendmail's wording, Postfix's and Exim's way of naming the stage
        (
            "5.2.3",
            552,
            "552 5.2.3 Message size exceeds fixed maximum message size (10485760) "
            "(in reply to MAIL FROM)",
            Category.SOFT_BOUNCE,
            "message_too_big",
        ),
        (
            "5.3.4",
            552,
            "SMTP error from remote mail server after MAIL FROM:<me@sender.example> "
            "SIZE=31457280: 552 5.3.4 Message too big for system",
            Category.SOFT_BOUNCE,
            "message_too_big",
        ),
        (
            None,
            552,
            "552 Requested action aborted (in reply to MAIL FROM command)",
            Category.SOFT_BOUNCE,
            "message_too_big",
        ),
        # RFC 1870 6.1: "452 insufficient system storage" (the receiving system, for now)
        (
            "4.3.0",
            452,
            "452 4.3.0 Insufficient system storage (in reply to MAIL FROM command)",
            Category.SOFT_BOUNCE,
            "system_full",
        ),
        # any other refusal at MAIL FROM is still about the sender
        (
            "5.7.1",
            552,
            "552 5.7.1 Sender refused (in reply to MAIL FROM command)",
            Category.POLICY,
            "sender_rejected",
        ),
        (
            "5.0.0",
            550,
            "550 5.0.0 Denied (in reply to MAIL FROM command)",
            Category.POLICY,
            "blocked",
        ),
    ],
)
def test_size_refusal_at_mail_from_is_the_message_not_the_sender(
    status, code, diagnostic, category, detail
):
    outcome = classify_bounce(status, code, diagnostic)
    assert (outcome.category, outcome.detail) == (category, detail)


def test_a_refusal_in_reply_to_the_connection_is_the_senders():
    # The DSN parser notes "(in reply to connect)" where the prose names the greeting
    # (Postfix "refused to talk to me") or Exim's "after initial connection": before any
    # recipient was named, so not about the recipient's mailbox, whatever X.2.x hint.
    outcome = classify_bounce("4.2.1", 421, "421 4.2.1 Service refused (in reply to connect)")
    assert outcome.category is Category.POLICY
