"""The fine reason of a bounce (`Outcome.detail`): what the receiving side said went wrong.

The category (SPEC section 3) decides what happens to the address; the reason says why, in
the words operators use (close to the vocabularies of bounce analyzers and ESP dashboards:
"user unknown", "mailbox full", "blocked", ...). A reason implies a category, with one
exception: a mailbox-does-not-exist reason on a transient (4.x.x) failure stays a soft
bounce (SPEC: 4.x.x is never hard), keeping its reason.
"""

from __future__ import annotations

HARD = "hard_bounce"
FULL = "mailbox_full"
SOFT = "soft_bounce"
POLICY = "policy"

# reason -> (category, one-line meaning). Order: as documented in docs/classification.md.
REASONS: dict[str, tuple[str, str]] = {
    # the address cannot exist (RFC 3463 X.1.x)
    "user_unknown": (HARD, "the mailbox does not exist (X.1.1)"),
    "host_unknown": (HARD, "the domain does not exist or has no mail host (X.1.2, X.4.4)"),
    "bad_address": (HARD, "the address is syntactically invalid (X.1.3)"),
    "has_moved": (HARD, "the mailbox has moved, no forwarding address (X.1.6)"),
    "no_mail_accepted": (HARD, "the domain accepts no mail at all (null MX, RFC 7505, X.1.10)"),
    # the mailbox's own state: escalating temporary block
    "mailbox_full": (FULL, "the mailbox is over its quota (X.2.2)"),
    "suspended": (FULL, "the mailbox is disabled, frozen or inactive (X.2.1, X.7.13)"),
    # transient or technical: soft
    "message_too_big": (SOFT, "the message is larger than the receiver accepts (X.2.3, X.3.4)"),
    "system_full": (SOFT, "the receiving system's storage is full (X.3.1)"),
    "rate_limited": (SOFT, "too many messages or connections; sending too fast (X.4.5...)"),
    "expired": (SOFT, "delivery kept failing until the message expired (X.4.7)"),
    "network_error": (SOFT, "connection refused, timed out or lost (X.4.1, X.4.2)"),
    "routing_loop": (SOFT, "the message looped or exceeded its hop count (X.4.6)"),
    "system_error": (SOFT, "the receiving system failed (X.3.x, 421/451)"),
    "mailer_error": (SOFT, "a local delivery program failed (pipe, procmail)"),
    "protocol_error": (SOFT, "SMTP syntax or protocol error (X.5.x)"),
    "tls_required": (SOFT, "the receiver requires TLS, or the TLS handshake failed"),
    "not_compliant": (SOFT, "our message is malformed: headers, encoding, RFC 5322 (X.6.x)"),
    "undefined": (SOFT, "no telling code or text"),
    # the receiver refused because of the sender: policy, recorded only
    "blocked": (POLICY, "the sending IP or domain is blocked (blocklist, reputation)"),
    "spam_detected": (POLICY, "the content was judged to be spam"),
    "virus_detected": (POLICY, "the content carries a virus or a dangerous attachment"),
    "content_rejected": (POLICY, "the content was refused by a filter (not spam, not virus)"),
    "auth_failure": (POLICY, "SPF, DKIM or DMARC failed (X.7.23-X.7.26)"),
    "require_ptr": (POLICY, "the sending IP has no valid reverse DNS (X.7.25)"),
    "relay_denied": (POLICY, "the receiver does not relay for this domain"),
    "sender_rejected": (POLICY, "the sender's address or domain was refused (X.1.7, X.1.8)"),
    "filtered": (POLICY, "the recipient's own rules or filter refused the message"),
    "not_member": (POLICY, "a list or group refused the post (sender not allowed to post)"),
    "policy_violation": (POLICY, "another local policy refusal (X.7.x)"),
}
