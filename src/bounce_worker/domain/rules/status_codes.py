"""What an enhanced status code says on its own (RFC 3463 and the IANA "Enumerated Status
Codes" registry, with RFC 3886, 4468, 4954, 5248, 6710, 7293, 7372, 7505, 8617, 8689).

Keys are (subject, detail); the class (2/4/5) is read separately by classify. Three kinds:

* `DECIDES_ANY_CLASS`: the code names the condition precisely, whatever its class.
* `DECIDES_WHEN_PERMANENT`: the code names a property of the address; decisive with class 5.
  With class 4 the text decides and a mailbox reason stays a soft bounce (SPEC 3).
* `HINTS`: the code names an area only, or servers are known to use it loosely (X.2.1 is
  used for "user unknown" as often as for "disabled"); the diagnostic text decides first and
  this reason is the fallback.

Subjects 6 (content) and 7 (security/policy) are the receiver refusing the message or its
sender: policy, unless an overriding wording says otherwise (see classify).
"""

from __future__ import annotations

DECIDES_ANY_CLASS: dict[tuple[int, int], str] = {
    (1, 7): "sender_rejected",  # RFC 3463 X.1.7 bad sender's mailbox address syntax
    (1, 8): "sender_rejected",  # RFC 3463 X.1.8 bad sender's system address
    (2, 2): "mailbox_full",  # RFC 3463 X.2.2 mailbox full
    (2, 3): "message_too_big",  # RFC 3463 X.2.3 message length exceeds administrative limit
    (3, 4): "message_too_big",  # RFC 3463 X.3.4 message too big for system
    (7, 13): "suspended",  # RFC 7372 X.7.13 user account disabled
    (7, 16): "message_too_big",  # RFC 6710 X.7.16 message too big for specified priority
}

DECIDES_WHEN_PERMANENT: dict[tuple[int, int], str] = {
    (1, 1): "user_unknown",  # RFC 3463 X.1.1 bad destination mailbox address
    (1, 2): "host_unknown",  # RFC 3463 X.1.2 bad destination system address
    (1, 3): "bad_address",  # RFC 3463 X.1.3 bad destination mailbox address syntax
    (1, 6): "has_moved",  # RFC 3463 X.1.6 destination mailbox has moved, no forwarding
    (1, 10): "no_mail_accepted",  # RFC 7505 X.1.10 recipient address has null MX
    (7, 17): "has_moved",  # RFC 7293 X.7.17 mailbox owner has changed
    (7, 18): "has_moved",  # RFC 7293 X.7.18 domain owner has changed
}

# Codes that decide "hard" but carry two documented meanings: X.1.10 is RFC 7505's null MX
# and Microsoft 365's "RESOLVER.ADR.RecipientNotFound" (NDR 5.1.10). The text picks the reason.
SHARED_HARD_CODES = frozenset({(1, 10)})

HINTS: dict[tuple[int, int], str] = {
    (2, 1): "suspended",  # RFC 3463 X.2.1 mailbox disabled, not accepting messages
    (3, 1): "system_full",  # RFC 3463 X.3.1 mail system full
    (3, 0): "system_error",  # RFC 3463 X.3.0 other or undefined mail system status
    (3, 2): "system_error",  # RFC 3463 X.3.2 system not accepting network messages
    (3, 5): "system_error",  # RFC 3463 X.3.5 system incorrectly configured
    (4, 0): "network_error",  # RFC 3463 X.4.0 other network or routing status
    (4, 1): "network_error",  # RFC 3463 X.4.1 no answer from host
    (4, 2): "network_error",  # RFC 3463 X.4.2 bad connection
    (4, 3): "system_error",  # RFC 3463 X.4.3 directory server failure
    # RFC 3463 X.4.4 unable to route ("a DNS lookup returning only an SOA record");
    # Microsoft 365 NDR 5.4.4 "SMTPSEND.DNS.NonExistentDomain": hard only with class 5.
    (4, 4): "host_unknown",
    (4, 5): "system_error",  # RFC 3463 X.4.5 mail system congestion
    (4, 6): "routing_loop",  # RFC 3463 X.4.6 routing loop detected
    (4, 7): "expired",  # RFC 3463 X.4.7 delivery time expired
    (5, 0): "protocol_error",  # RFC 3463 X.5.0 other or undefined protocol status
    (5, 1): "protocol_error",  # RFC 3463 X.5.1 invalid command
    (5, 2): "protocol_error",  # RFC 3463 X.5.2 syntax error
    (5, 3): "rate_limited",  # RFC 3463 X.5.3 too many recipients
    (5, 4): "protocol_error",  # RFC 3463 X.5.4 invalid command arguments
    (5, 5): "protocol_error",  # RFC 3463 X.5.5 wrong protocol version
    (5, 6): "protocol_error",  # RFC 4954 X.5.6 authentication exchange line too long
}

# Subject 6 (message content or media) and 7 (security or policy): refused for the message
# or its sender. Details not listed here are `POLICY_DEFAULT`.
POLICY_SUBJECTS = frozenset({6, 7})
POLICY_DEFAULT = "policy_violation"
POLICY_DETAILS: dict[tuple[int, int], str] = {
    (6, 0): "content_rejected",  # RFC 3463 X.6.0 other or undefined media error
    (6, 1): "content_rejected",  # RFC 3463 X.6.1 media not supported
    (6, 2): "content_rejected",  # RFC 3463 X.6.2 conversion required and prohibited
    (6, 3): "content_rejected",  # RFC 3463 X.6.3 conversion required but not supported
    (6, 5): "content_rejected",  # RFC 3463 X.6.5 conversion failed
    (7, 8): "auth_failure",  # RFC 4954 X.7.8 authentication credentials invalid
    (7, 9): "auth_failure",  # RFC 4954 X.7.9 authentication mechanism too weak
    (7, 20): "auth_failure",  # RFC 7372 X.7.20 no passing DKIM signature found
    (7, 21): "auth_failure",  # RFC 7372 X.7.21 no acceptable DKIM signature found
    (7, 22): "auth_failure",  # RFC 7372 X.7.22 no valid author-matched DKIM signature
    (7, 23): "auth_failure",  # RFC 7372 X.7.23 SPF validation failed
    (7, 24): "auth_failure",  # RFC 7372 X.7.24 SPF validation error
    (7, 25): "require_ptr",  # RFC 7372 X.7.25 reverse DNS validation failed
    (7, 26): "auth_failure",  # RFC 7372 X.7.26 multiple authentication checks failed
    (7, 27): "sender_rejected",  # RFC 7505 X.7.27 sender address has null MX
    (7, 28): "blocked",  # IANA X.7.28 mail flood detected
    (7, 29): "auth_failure",  # RFC 8617 X.7.29 ARC validation failure
}

# A basic SMTP reply code (RFC 5321 4.2.2-4.2.3) with no enhanced code, or only X.0.0, and no
# telling text: what the RFC's reply text says. 550, 553 and 554 name no condition (RFC 5321:
# 550 "mailbox unavailable (e.g., mailbox not found, no access, or command rejected for policy
# reasons)"), so they are left undefined; 521/556 (RFC 7504) are read with the command
# refused, in classify.
REPLY_CODE_HINTS: dict[int, str] = {
    421: "system_error",  # RFC 5321 421 service not available, closing transmission channel
    451: "system_error",  # RFC 5321 451 requested action aborted: local error in processing
    452: "system_full",  # RFC 5321 452 requested action not taken: insufficient system storage
    552: "mailbox_full",  # RFC 5321 552 requested mail action aborted: exceeded storage allocation
}
