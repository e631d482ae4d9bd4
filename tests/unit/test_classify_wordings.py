"""Issue 13 rule groups, each from a documented example wording (the source is in the table).

The texts are the ones the cited documents give (RFC reply texts, MTA source strings,
providers' published error references), with placeholder addresses; none is taken from a
test corpus.
"""

from __future__ import annotations

import pytest

from bounce_worker.domain.classify import Category, classify_bounce

HARD, FULL, SOFT, POLICY = (
    Category.HARD_BOUNCE,
    Category.MAILBOX_FULL,
    Category.SOFT_BOUNCE,
    Category.POLICY,
)


@pytest.mark.parametrize(
    ("status", "code", "diagnostic", "category", "detail"),
    [
        # Microsoft 365 / Exchange NDRs (Microsoft Learn NDR reference)
        (
            "5.1.10",
            550,
            "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
            HARD,
            "user_unknown",
        ),
        (
            "5.1.1",
            550,
            "Remote Server returned '550 5.1.1 RESOLVER.ADR.ExRecipNotFound; not found'",
            HARD,
            "user_unknown",
        ),
        (
            "5.0.0",  # the text parser's code for a report that quotes none
            None,
            "Your message to kim@example.org couldn't be delivered. kim wasn't found "
            "at example.org.",
            HARD,
            "user_unknown",
        ),
        (
            "5.0.0",
            None,
            "The email address you entered couldn't be found. Please check the "
            "recipient's email address",
            HARD,
            "user_unknown",
        ),
        # OpenSMTPD queue.c: envelope_set_errormsg(&evp, "Envelope expired")
        ("5.0.0", None, "kim@example.net: Envelope expired", SOFT, "expired"),
        # qmail bouncesaying(1): "|bouncesaying 'This address no longer accepts mail.'"
        ("5.0.0", None, "This address no longer accepts mail.", HARD, "user_unknown"),
        # qmail and its patches; the X.7.1 code does not make it a policy refusal
        (
            "5.7.1",
            553,
            "553 sorry, your envelope recipient is in my badrcptto list (#5.7.1)",
            HARD,
            "user_unknown",
        ),
        (
            "5.1.1",
            550,
            "550 sorry, this recipient is not in my validrcptto list (#5.1.1)",
            HARD,
            "user_unknown",
        ),
        # RFC 5321 551: the user is not here, the server names another path
        (None, 551, "551 User not local; please try <kim@new.example.org>", HARD, "has_moved"),
        # name-service failures with a permanent code are hard (RFC 3463 X.4.4 / X.1.2)
        (
            "5.4.4",
            550,
            "550 5.4.4 all relevant MX records point to non-existent hosts",
            HARD,
            "host_unknown",
        ),
        ("5.0.0", None, "Host name lookup failure", HARD, "host_unknown"),
        # mailbox full in providers' words
        (
            "4.2.2",
            452,
            "452-4.2.2 The recipient's inbox is out of storage space. Please "
            "direct the recipient to https://support.google.com/mail/?p=OverQuotaTemp",
            FULL,
            "mailbox_full",
        ),
        (
            "5.0.0",
            552,
            "552 Requested mail action aborted: the user's space has been used up",
            FULL,
            "mailbox_full",
        ),
        (
            "5.2.2",
            552,
            "552 5.2.2 Mailbox would exceed maximum allowed storage",
            FULL,
            "mailbox_full",
        ),
        (
            "5.0.0",
            550,
            "550 5.0.0 Boite du destinataire pleine. Recipient mailbox full",
            FULL,
            "mailbox_full",
        ),
        # a disabled mailbox (Gmail 5.2.1), not a missing one
        (
            "5.2.1",
            550,
            "550-5.2.1 The email account that you tried to reach is inactive.",
            FULL,
            "suspended",
        ),
        # Postfix's queue manager deferring a destination: the network, not the mailbox
        (
            "4.0.0",
            None,
            "delivery temporarily suspended: connect to mx.example.org[192.0.2.1]:"
            " Connection refused",
            SOFT,
            "network_error",
        ),
        # localized user-unknown replies with a generic code
        ("5.0.0", 550, "550 5.0.0 Utilisateur inconnu", HARD, "user_unknown"),
        (
            "5.0.0",
            550,
            "550 Adresse d au moins un destinataire invalide. Invalid recipient.",
            HARD,
            "user_unknown",
        ),
        ("5.0.0", 550, "550 Empfaenger unbekannt", HARD, "user_unknown"),
        # Amazon SES's own refusal of an unverified sender: the sender's problem
        (
            "5.0.0",
            554,
            "554 Message rejected: Email address is not verified. The following "
            "identities failed the check in region US-EAST-1: a@example.org",
            POLICY,
            "auth_failure",
        ),
        # the sender's address refused, even under an address code: not the subscriber's
        (
            "5.1.1",
            550,
            "550 5.1.1 <news@sender.example>: Sender address rejected: User unknown in local "
            "recipient table",
            POLICY,
            "sender_rejected",
        ),
        ("5.0.0", 550, "550 Sender verify failed", POLICY, "sender_rejected"),
        # our account's sending limit is no full mailbox (Gmail SMTP error reference)
        ("5.4.5", 550, "550 5.4.5 Daily user sending quota exceeded.", SOFT, "rate_limited"),
        ("5.2.2", 550, "550 5.2.2 Submission quota exceeded", SOFT, "rate_limited"),
        # Gmail 4.7.28: reputation of the sending IP, not a rate limit
        (
            "4.7.28",
            421,
            "421-4.7.28 Our system has detected an unusual rate of unsolicited mail "
            "originating from your IP address.",
            POLICY,
            "blocked",
        ),
        # local delivery agents at a mailbox's size limit
        (
            "5.2.2",
            552,
            "552 5.2.2 cannot update mailbox /var/mail/kim for user kim. error writing "
            "message: File too large",
            FULL,
            "mailbox_full",
        ),
        (
            "5.1.1",
            550,
            "550 The users mailfolder is over the allowed quota (size). (#5.1.1)",
            FULL,
            "mailbox_full",
        ),
        # cPanel's Exim text names the address first, the blocklist second
        (
            "5.0.0",
            550,
            "The mail server could not deliver mail to kim@example.org. The account or domain "
            "may not exist, they may be blacklisted, or missing the proper dns entries.",
            HARD,
            "host_unknown",
        ),
        ("5.0.0", 550, "550 Address unknown", HARD, "user_unknown"),
        ("5.1.10", 550, "550 5.1.10 This domain does not accept email", HARD, "no_mail_accepted"),
        (
            "5.0.0",
            553,
            "553-you are trying to use me [server-1.messagelabs.com] as a relay, but I have "
            "not been configured to let you do this",
            POLICY,
            "relay_denied",
        ),
        (
            "5.0.0",
            None,
            "Connected to 192.0.2.1 but sender was rejected. Remote host said: 553 denied",
            POLICY,
            "sender_rejected",
        ),
        (
            "4.0.0",
            None,
            "retry time not reached for any host after a long failure period",
            SOFT,
            "expired",
        ),
        # Postfix's "Recipient address rejected:" answers RCPT TO: under a 5.7.1 catch-all,
        # "unknown" names the recipient
        (
            "5.7.1",
            554,
            "554 5.7.1 <kim@example.org>: Recipient address rejected: Unknown recipient",
            HARD,
            "user_unknown",
        ),
        ("5.0.0", 550, "550 Mailbox not present", HARD, "user_unknown"),
        ("5.0.0", 550, "550 5.0.0 User invalid", HARD, "user_unknown"),
        # a relay refusal under an address code is still the server's policy
        ("5.1.1", 550, "550 5.1.1 <kim@example.org>... Relaying denied", POLICY, "relay_denied"),
        # qmail-remote names the stage in its own words
        (
            "5.7.1",
            550,
            "192.0.2.1 does not like recipient. Remote host said: 550 5.7.1 <kim@example.org>"
            "... User unknown",
            HARD,
            "user_unknown",
        ),
        (
            "5.0.0",
            550,
            "192.0.2.1 failed after I sent the message. Remote host said: 550 User unknown",
            POLICY,
            "filtered",
        ),
        # "try again later" only says the refusal is temporary: a block stays a block
        (
            "5.0.0",
            554,
            "554 Your IP is blocked by our reputation system, try again later",
            POLICY,
            "blocked",
        ),
        (
            "4.0.0",
            451,
            "451 Temporary local problem - please try again later",
            SOFT,
            "system_error",
        ),
        ("4.0.0", 421, "421 Too busy, try again later", SOFT, "rate_limited"),
        # words about our side that the user-unknown patterns would also match
        ("5.0.0", 553, "553 Invalid sender address", POLICY, "sender_rejected"),
        ("5.0.0", 550, "550 Bad IP address, connection refused", POLICY, "blocked"),
        # gateways named in their vendors' documentation
        (
            "5.0.0",
            554,
            "554 Email rejected due to security policies - "
            "https://community.mimecast.com/docs/DOC-1369#554",
            POLICY,
            "policy_violation",
        ),
        (
            "5.0.0",
            550,
            "550 Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550",
            HARD,
            "user_unknown",
        ),
        (
            "5.0.0",
            554,
            "554 Service unavailable; Client host [192.0.2.1] blocked using Barracuda Reputation",
            POLICY,
            "blocked",
        ),
        ("5.0.0", 550, "550 5.0.0 Bad HELO - Host impersonating example.org", POLICY, "blocked"),
        # a recipient's own refusal of this sender is no domain without mail (no hard bounce)
        (
            "5.0.0",
            550,
            "550 The recipient does not accept mails from this sender",
            POLICY,
            "filtered",
        ),
        ("5.0.0", 550, "550 This mailbox has been blocked due to inactivity", FULL, "suspended"),
        # Outlook.com's documented postmaster codes: RP-001's rate limit is "related to
        # IP/domain reputation" (its Troubleshooting page), so recorded, not counted
        (
            "4.0.0",
            421,
            "421 RP-001 (BAY0-MC1-F1) Unfortunately, some messages from 192.0.2.1 weren't sent.",
            POLICY,
            "blocked",
        ),
        (
            "5.0.0",
            550,
            "550 SC-001 (BAY0-MC1-F1) Unfortunately, messages from 192.0.2.1 weren't sent.",
            POLICY,
            "blocked",
        ),
        (
            "5.0.0",
            553,
            "553 Connections will not be accepted from 192.0.2.1, because the ip is "
            "in Spamhaus's list",
            POLICY,
            "blocked",
        ),
        ("5.0.0", 550, "550 Invalid domain name in HELO", POLICY, "blocked"),
        (
            "5.0.0",
            550,
            ">>> EHLO mx.sender.example <<< 250 ok >>> RCPT To:<kim@example.org> "
            "<<< 550 User unknown",
            HARD,
            "user_unknown",
        ),
        (
            "5.0.0",
            550,
            "550 Unable to verify sender address: mailbox not found",
            POLICY,
            "sender_rejected",
        ),
        (
            "5.0.0",
            550,
            "550 Rejected: message contains an invalid link",
            POLICY,
            "content_rejected",
        ),
        (
            "5.7.1",
            553,
            "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)",
            POLICY,
            "relay_denied",
        ),
        # the same user-unknown text with a transient code stays soft (SPEC 3)
        ("4.0.0", 450, "450 4.0.0 Utilisateur inconnu", SOFT, "user_unknown"),
        # Google Workspace "Gmail SMTP errors and codes": a receiving-rate limit, also sent
        # with 5.2.1 (which alone would mean a disabled mailbox)
        (
            "5.2.1",
            550,
            "550-5.2.1 The user you are trying to contact is receiving mail at a rate that "
            "prevents additional messages from being delivered.",
            SOFT,
            "rate_limited",
        ),
        (
            "4.2.1",
            450,
            "450-4.2.1 The user you are trying to contact is receiving email at a rate that "
            "prevents additional messages from being delivered. Please resend your message "
            "at a later time.",
            SOFT,
            "rate_limited",
        ),
        # Exim transports/smtp.c and routers/dnslookup.c (text bounce: no code, 5.0.0)
        ("5.0.0", None, "all host address lookups failed permanently", HARD, "host_unknown"),
        (
            "5.0.0",
            None,
            "kim@example.org an MX or SRV record indicated no SMTP service",
            HARD,
            "no_mail_accepted",
        ),
        # MTA sources: Courier module.esmtp/esmtpclient.c, DragonFly dma (net.c, dma.c),
        # Ipswitch IMail, HCL Domino router
        ("5.0.0", None, "<kim@example.org>: <<< No such domain.", HARD, "host_unknown"),
        ("4.0.0", None, "<kim@example.org>: <<< DNS lookup failed.", SOFT, "network_error"),
        (
            "5.0.0",
            None,
            "There was an error delivering your mail to <kim@example.org>. DNS lookup failure: "
            "host example.org not found",
            HARD,
            "host_unknown",
        ),
        (
            "5.0.0",
            None,
            "Could not deliver for the last 432000 seconds. Giving up.",
            SOFT,
            "expired",
        ),
        ("5.0.0", None, "Unknown host: kim@example.org", HARD, "host_unknown"),
        ("5.0.0", None, "Cannot route mail to user (kim@example.org)", POLICY, "filtered"),
        ("5.0.0", None, "Message has exceeded maximum hop count", SOFT, "routing_loop"),
        # Tencent QQ Mail help pages (service.mail.qq.com), Apple iCloud (HT204137), Orange
        # and La Poste's bilingual replies, Cox's email error codes
        ("5.0.0", 550, "550 Ip frequency limited [Blocked IP 192.0.2.1]", SOFT, "rate_limited"),
        ("5.0.0", 550, "550 Mailbox unavailable or access denied", SOFT, "rate_limited"),
        ("5.0.0", 550, "550 kim@example.org is a deactivated mailbox", FULL, "suspended"),
        ("5.0.0", 550, "550 Suspected bounce attacks", POLICY, "blocked"),
        ("5.0.0", 550, "550 Mail content denied", POLICY, "spam_detected"),
        ("5.0.0", 550, "550 Mail is rejected by recipients", POLICY, "filtered"),
        (
            "4.7.1",
            421,
            "421 4.7.1 Messages to kim@icloud.example deferred due to excessive volume. Try "
            "again later",
            SOFT,
            "rate_limited",
        ),
        (
            "5.5.0",
            550,
            "550 5.5.0 Le compte du destinataire est bloque. The recipient account isblocked. "
            "LPN007_426",
            FULL,
            "suspended",
        ),
        (
            "5.0.0",
            550,
            "550 Boite du destinataire archivee. Archived recipient.",
            FULL,
            "suspended",
        ),
        ("5.0.0", 421, "421 Too many sessions. AUP#CXCNCT", SOFT, "rate_limited"),
        ("5.0.0", 554, "554 Connection refused. AUP#CXBL", POLICY, "blocked"),
        ("5.0.0", 554, "554 rejected. AUP#CXDNS", POLICY, "require_ptr"),
        ("5.0.0", 554, "554 rejected. AUP#CXSNDR", POLICY, "auth_failure"),
        ("5.0.0", 554, "554 rejected. AUP#URLBL011", POLICY, "spam_detected"),
        # Microsoft 365 NDR reference: limits, not policy refusals, whatever the 5.7.x code
        (
            # our organization's outgoing mail blocked for spam or bulk mail (Microsoft Learn
            # "Fix error code 5.7.700 through 5.7.750"): recorded, not counted as a rate limit
            "5.7.705",
            550,
            "550 5.7.705 Access denied, tenant has exceeded threshold",
            POLICY,
            "blocked",
        ),
        (
            "5.7.508",
            550,
            "550 5.7.508 Access denied, [192.0.2.1] has exceeded permitted limits within "
            "192.0.2.0/24 range",
            SOFT,
            "rate_limited",
        ),
        # 1&1 / GMX reports name the SMTP command: "after RCPT command", "for TEXT command"
        (
            "5.7.1",
            550,
            "SMTP error from remote server after RCPT command: host: mx.example.org "
            "550 5.7.1 <kim@example.org>... User unknown",
            HARD,
            "user_unknown",
        ),
        (
            "5.0.0",
            550,
            "SMTP error from remote server for TEXT command, host: mx.example.org reason: 550 "
            "User unknown",
            POLICY,
            "filtered",
        ),
        (
            "5.7.1",
            550,
            "SMTP Server <mx.example.org> rejected recipient <kim@example.org> (Error following "
            "RCPT command). It responded as follows: [550 5.7.1 User unknown]",
            HARD,
            "user_unknown",
        ),
        # Japanese router and carrier texts, read through their English equivalents
        (
            "5.0.0",
            None,
            "------- Failure Reasons -------- ディレクトリのリストにありません kim@example.jp",
            HARD,
            "user_unknown",
        ),
        (
            "5.0.0",
            None,
            "User kim (kim@example.jp) は Domino ディレクトリには見つかりません",
            HARD,
            "user_unknown",
        ),
        (
            "5.0.0",
            None,
            "送信先のメールボックスが一杯のため、送信できませんでした。",
            FULL,
            "mailbox_full",
        ),
        # fml mailing list manager notices
        (
            "5.0.0",
            None,
            "NOT MEMBER article from <me@sender.example>",
            POLICY,
            "not_member",
        ),
        # Exchange / Microsoft 365 NDR reference
        (
            "5.7.13",
            550,
            "550 5.7.13 RESOLVER.RST.SenderNotAuthenticatedForPublicFolder; sender was not "
            "authenticated for public folder",
            POLICY,
            "sender_rejected",
        ),
        ("5.7.505", 550, "550 5.7.505 Access denied, banned recipient", FULL, "suspended"),
        (
            "5.1.4",
            550,
            "550 5.1.4 Recipient address reserved by RFC 2606",
            HARD,
            "bad_address",
        ),
        # Google Workspace SMTP error reference: a 5.7.x/4.7.x code with a text that names a
        # format, TLS, relay-limit or temporary condition is no policy refusal
        (
            "5.7.1",
            550,
            "550 5.7.1 Messages missing a valid Message-ID: header are not accepted.",
            SOFT,
            "not_compliant",
        ),
        (
            "5.7.1",
            550,
            "550 5.7.1 Encoded-word syntax is not permitted in message header Subject.",
            SOFT,
            "not_compliant",
        ),
        (
            "5.7.0",
            530,
            "530 5.7.0 Must issue a STARTTLS command first.",
            SOFT,
            "tls_required",
        ),
        (
            "4.7.0",
            421,
            "421 4.7.0 TLS required for RCPT domain, closing connection.",
            SOFT,
            "tls_required",
        ),
        (
            "5.7.1",
            550,
            "550 5.7.1 Daily SMTP relay limit exceeded for user.",
            SOFT,
            "rate_limited",
        ),
        (
            "4.7.0",
            421,
            "421 4.7.0 Temporary System Problem. Try again later.",
            SOFT,
            "system_error",
        ),
        # Gmail's own report texts
        (
            "5.0.0",
            None,
            "DNS Error: DNS server returned answer with no data for example.org",
            HARD,
            "host_unknown",
        ),
        (
            "5.0.0",
            500,
            "500 Remote server does not support SMTP Authenticated Relay (state 12).",
            POLICY,
            "relay_denied",
        ),
        # au/EZweb's and au by KDDI's own notices
        (
            "5.0.0",
            None,
            "Could not be delivered to: <kim@example.org> As the remote domain doesnt exist.",
            HARD,
            "host_unknown",
        ),
        (
            "5.0.0",
            None,
            "Could not be delivered to: <kim@example.org> Due to the following SMTP relay error.",
            POLICY,
            "relay_denied",
        ),
        ("4.0.0", None, "The user(s) account is temporarily limited.", FULL, "suspended"),
        (
            "5.0.0",
            None,
            "Your message was not delivered within 0 days and 1 hours. Remote host is not "
            "responding.",
            SOFT,
            "expired",
        ),
        # Exchange DSN codes: 5.4.4 with a looping MX is a DNS error, not an unknown host
        (
            "5.4.4",
            554,
            "554 5.4.4 SMTPSEND.DNS.MxLoopback; DNS config error",
            SOFT,
            "routing_loop",
        ),
        (
            "5.4.4",
            554,
            "554 5.4.4 SMTPSEND.DNS.NonExistentDomain; nonexistent domain",
            HARD,
            "host_unknown",
        ),
        # providers' published texts: GoDaddy bounceback codes, Gmail's 'Send mail as' NDR,
        # GMX postmaster error messages (c=rdns)
        (
            "5.2.0",
            550,
            "550 5.2.0 <me@sender.example> From: Domain is invalid. Please provide a valid "
            "From: IB506",
            POLICY,
            "sender_rejected",
        ),
        (
            "5.0.0",
            None,
            "** Message not delivered ** You're sending this from a different address or alias "
            "using the 'Send mail as' feature. The settings for your 'Send mail as' account are "
            "misconfigured or out of date.",
            POLICY,
            "sender_rejected",
        ),
        (
            None,
            554,
            "554-gmx.net (mxgmx104) Nemesis ESMTP Service not available 554-No SMTP service "
            "554-Bad DNS PTR resource record. 554 For explanation visit "
            "https://postmaster.gmx.net/en/case?c=rdns",
            POLICY,
            "require_ptr",
        ),
        # RFC 5321 4.2.2 reply texts of basic codes with no enhanced code
        (
            None,
            553,
            "553 Requested action not taken: mailbox name not allowed",
            HARD,
            "bad_address",
        ),
        (
            None,
            452,
            "452 Requested action not taken: insufficient system storage",
            SOFT,
            "system_full",
        ),
        (None, 452, "452 Requested action not taken", SOFT, "system_full"),
        (None, 451, "451 Requested action aborted", SOFT, "system_error"),
        ("5.0.0", 552, "552 Requested mail action aborted", FULL, "mailbox_full"),
        (None, 550, "550 Requested action not taken", SOFT, "undefined"),
    ],
)
def test_documented_wordings(status, code, diagnostic, category, detail):
    outcome = classify_bounce(status, code, diagnostic)
    assert (outcome.category, outcome.detail) == (category, detail)


def test_observed_wordings_are_marked_as_such():
    from bounce_worker.domain.rules.wordings import GROUPS

    every = [w for g in GROUPS for w in g.wordings]
    observed = [w for w in every if w.observed]
    assert observed and len(observed) < len(every)
    assert all(w.source.startswith(("common wording", "observed")) for w in observed)


@pytest.mark.parametrize(
    ("status", "code", "diagnostic", "category", "detail"),
    [
        # Providers' reason codes decide over the SMTP code beside them (their published tables)
        (
            "5.1.1",
            550,
            "550 5.1.1 RCP-P1 http://postmaster.facebook.com/response_codes",
            HARD,
            "user_unknown",
        ),
        (
            "5.1.1",
            550,
            "550 5.1.1 RCP-P2 http://postmaster.facebook.com/response_codes",
            POLICY,
            "filtered",
        ),
        ("4.7.1", 450, "450 4.7.1 CON-T3 too many new connections", SOFT, "rate_limited"),
        (
            "5.0.0",
            550,
            "550 This IP has sent too many to too many recipients this hour. IB607",
            SOFT,
            "rate_limited",
        ),
        (
            "5.0.0",
            554,
            "554 This IP has been temporarily blocked for attempting to mail too "
            "many invalid recipients. IB112",
            POLICY,
            "blocked",
        ),
        ("5.7.1", 554, "554 5.7.1 AUP#I-1350 too many messages", SOFT, "rate_limited"),
        ("5.7.1", 554, "554 5.7.1 AUP#O-1530 message larger than 20MB", SOFT, "message_too_big"),
        (
            "5.7.1",
            550,
            "550 5.7.1 Mailbox is full, see https://mail.i.ua/err/4/",
            FULL,
            "mailbox_full",
        ),
        ("5.7.1", 550, "550 5.7.1 see https://mail.i.ua/err/2/", HARD, "user_unknown"),
    ],
)
def test_provider_codes(status, code, diagnostic, category, detail):
    outcome = classify_bounce(status, code, diagnostic)
    assert (outcome.category, outcome.detail) == (category, detail)


@pytest.mark.parametrize(
    ("status", "code", "diagnostic", "category", "detail"),
    [
        # Orange / La Poste: the code beside the bilingual reply decides (postmaster.orange.fr;
        # postmastery.com "Orange postmaster SMTP error codes (OFR)"). 505 after the data is
        # the receiver's fault, not the "Service refuse" policy its words say.
        (
            "4.2.0",
            421,
            "421 4.2.0 Service refuse. Veuillez essayer plus tard. Service refused, please "
            "try later. OFR005_505 [505] (in reply to end of DATA command)",
            SOFT,
            "system_error",
        ),
        (
            "4.2.1",
            421,
            "421 4.2.1 Service refuse. Veuillez essayer plus tard. Service refused, please "
            "try later. LPN007_505 (in reply to end of DATA command)",
            SOFT,
            "system_error",
        ),
        (None, 552, "552 Taille limite du message atteinte OFR_514 [514]", SOFT, "message_too_big"),
        (
            "5.5.0",
            550,
            "550 5.5.0 Adresse d au moins un destinataire invalide OFR_416 [416]",
            HARD,
            "user_unknown",
        ),
        ("5.7.1", 550, "550 5.7.1 Adresse d au moins un destinataire LPN418", HARD, "user_unknown"),
        (None, 554, "554 Mail rejete. Mail rejected. OFR_506 [506]", POLICY, "spam_detected"),
        (
            None,
            421,
            "421 mwinf5c77 ME Service refuse. Veuillez essayer plus tard. Service refused, "
            "please try later. OFR_999 [999]",
            POLICY,
            "blocked",
        ),
        # Netease's codes (its bounce code table): a rate limit is transient even though
        # every Netease reply links its "help_spam" page
        (
            None,
            421,
            "421 HL:ICC 163 smtp10,x please see http://mail.163.com/help/help_spam_16.htm?ip=x",
            SOFT,
            "rate_limited",
        ),
        (None, 451, "451 MI:SFQ 163 smtp10 please try again", SOFT, "rate_limited"),
        (None, 554, "554 DT:SPM 163 smtp10,x please see help", POLICY, "spam_detected"),
        (None, 450, "450 DT:RBL 163 smtp10 please see http://www.rbls.org/", POLICY, "blocked"),
    ],
)
def test_orange_and_netease_codes(status, code, diagnostic, category, detail):
    outcome = classify_bounce(status, code, diagnostic)
    assert (outcome.category, outcome.detail) == (category, detail)


@pytest.mark.parametrize(
    ("status", "code", "diagnostic", "category", "detail"),
    [
        # Yandex Mail help "Report on non-delivery to Yandex": the recipient's account blocked
        # for User Agreement violations; "No correct recipients" = a non-existing address
        (
            "5.7.1",
            550,
            "550 5.7.1 Policy rejection on the target address",
            FULL,
            "suspended",
        ),
        ("5.0.0", 554, "554 5.0.0 No correct recipients", HARD, "user_unknown"),
        # Web.de's bilingual replies (sitepackage.de's table of provider bounce texts)
        (None, 550, "550 Benutzer nicht bekannt/User unknown", HARD, "user_unknown"),
        (
            None,
            550,
            "550 Benutzer hat das Speichervolumen überschritten. / User has exhausted allowed "
            "storage space.",
            FULL,
            "mailbox_full",
        ),
        # Coremail's bounce hints (its knowledge base)
        (None, 550, "550 user not exist", HARD, "user_unknown"),
        (None, 550, "550 local server don't exists that user", HARD, "user_unknown"),
        # Google Workspace SMTP error reference: a transaction limit, not a policy refusal
        (
            "4.5.3",
            452,
            "452 4.5.3 Domain policy size per transaction exceeded, please try this recipient "
            "in a separate transaction",
            SOFT,
            "rate_limited",
        ),
        # Yahoo Sender Hub and Microsoft 365 NDR 5.7.512: our message's headers
        (
            None,
            554,
            "554 Message not allowed - Headers are not RFC compliant",
            SOFT,
            "not_compliant",
        ),
        (
            "5.7.512",
            550,
            "550 5.7.512 Access denied, message must be RFC 5322 section 3.6.2 compliant",
            SOFT,
            "not_compliant",
        ),
        # AOL postmaster error messages: every listed code is a block of the sending IP; the
        # 5.2.1 of "521 5.2.1 : (CON:B1)" is not a disabled mailbox
        (
            "5.2.1",
            521,
            "521 5.2.1 : (CON:B1) http://postmaster.info.aol.com/errors/554conb1.html",
            POLICY,
            "blocked",
        ),
        (
            "5.2.1",
            521,
            "521 5.2.1 : AOL will not accept delivery of this message.",
            POLICY,
            "blocked",
        ),
        (
            None,
            554,
            "554 RLY:B1 http://postmaster.info.aol.com/errors/554rlyb1.html",
            POLICY,
            "blocked",
        ),
        # Yahoo Sender Hub: our envelope sender's domain does not resolve
        (
            None,
            451,
            "451 Message temporarily deferred due to unresolvable RFC.5321 from domain",
            POLICY,
            "sender_rejected",
        ),
    ],
)
def test_provider_references(status, code, diagnostic, category, detail):
    outcome = classify_bounce(status, code, diagnostic)
    assert (outcome.category, outcome.detail) == (category, detail)


@pytest.mark.parametrize(
    ("status", "code", "diagnostic", "category", "detail"),
    [
        # Postfix smtpd(8) reject_non_fqdn_recipient (listed by Yandex as a bad address)
        (
            "5.5.2",
            504,
            "504 5.5.2 <kim@intranet>: Recipient address rejected: need fully-qualified address",
            HARD,
            "bad_address",
        ),
        # Postfix smtpd_check.c check_table_result(): an access(5) REJECT without text says
        # "<name>: <class> rejected: Access denied". On the recipient address it is kept
        # as unknown (the same words as Microsoft 365's 5.4.1 for a recipient that does not
        # exist; docs/classification.md says why); on the client or sender it is policy.
        (
            "5.7.1",
            554,
            "554 5.7.1 <kim@example.org>: Recipient address rejected: Access denied",
            HARD,
            "user_unknown",
        ),
        (
            "5.7.1",
            554,
            "554 5.7.1 <mx.example.net[192.0.2.1]>: Client host rejected: Access denied",
            POLICY,
            "blocked",
        ),
        (
            "5.7.1",
            554,
            "554 5.7.1 <bounce@example.com>: Sender address rejected: Access denied",
            POLICY,
            "sender_rejected",
        ),
        # qmail-remote.c: no MX and no address record (#5.4.4); a refusal of DATA itself
        (
            "5.0.0",
            None,
            "Sorry, I couldn't find a mail exchanger or IP address. (#5.4.4)",
            HARD,
            "host_unknown",
        ),
        (
            "5.0.0",
            554,
            "mx.example.org failed on DATA command. Remote host said: 554 unknown user",
            POLICY,
            "filtered",
        ),
        # Exim: an ACL deny without its own message; a DNS lookup that did not complete; the
        # smtp transport's line-length limit
        (None, 550, "550 Administrative prohibition", POLICY, "policy_violation"),
        (
            "4.0.0",
            451,
            "R=dnslookup defer (-1): host lookup did not complete",
            SOFT,
            "network_error",
        ),
        ("5.0.0", None, "message has lines too long for transport", SOFT, "not_compliant"),
        # Postfix with the VDA quota patch (virtual_maildir_limit_message's default)
        (
            "5.0.0",
            None,
            "maildir delivery failed: Sorry, the user's maildir has overdrawn his diskspace "
            "quota, please try again later.",
            FULL,
            "mailbox_full",
        ),
        # Postfix reject_unknown_client_hostname: the sending IP has no name
        (
            "4.7.1",
            450,
            "450 4.7.1 Client host rejected: cannot find your hostname, [192.0.2.1]",
            POLICY,
            "require_ptr",
        ),
    ],
)
def test_mta_sources(status, code, diagnostic, category, detail):
    outcome = classify_bounce(status, code, diagnostic)
    assert (outcome.category, outcome.detail) == (category, detail)


@pytest.mark.parametrize(
    "diagnostic",
    [
        "550 5.7.1 Bad HELO name example",
        "550 5.7.1 Invalid EHLO greeting",
        "554 5.7.1 <localhost>: Helo command rejected: Host not found",
        "550 5.7.1 dynamic address in HELO",
        "550 5.7.1 host impersonating example.org",
    ],
)
def test_helo_refusals_are_blocks(diagnostic):
    # The HELO checks, one pattern per literal (Exim/Postfix): the sending host, policy
    outcome = classify_bounce("5.0.0", 550, diagnostic)
    assert (outcome.category, outcome.detail) == (POLICY, "blocked")


# Google Workspace "Gmail SMTP errors and codes" (support.google.com/a/answer/3726730, 2026-02
# revision): the current texts. A refusal for our IP's reputation, authentication or PTR is
# "temporarily rate limited" in words but the sender's problem (policy, recorded only).
GMAIL_REFERENCE = [
    (
        "4.2.1",
        450,
        "The user you are trying to contact is receiving email too quickly. Please resend "
        "your message at a later time.",
        SOFT,
        "rate_limited",
    ),
    (
        "4.7.0",
        421,
        "This message is suspicious due to the very low reputation of the sending IP address. "
        "To protect our users from spam, email sent from your IP address has been temporarily "
        "rate limited.",
        POLICY,
        "blocked",
    ),
    (
        "4.7.28",
        421,
        "Gmail has detected an unusual rate of unsolicited email originating from your IP "
        "Netblock 192.0.2.0. To protect our users from spam, email sent from your IP Netblock "
        "has been temporarily rate limited.",
        POLICY,
        "blocked",
    ),
    (
        "4.7.28",
        421,
        "Gmail has detected this sender exceeded the quota for sending messages that have the "
        "same Message-ID:. To best protect our users, the message has been temporarily "
        "rejected.",
        POLICY,
        "blocked",
    ),
    (
        "4.7.27",
        421,
        "Your email has been rate limited because SPF authentication didn't pass for this "
        "message. Gmail requires all bulk email senders to authenticate their email with SPF.",
        POLICY,
        "auth_failure",
    ),
    (
        "4.7.24",
        451,
        "The SPF record of the sending domain has one or more suspicious entries. To protect "
        "our users from spam, email sent from your IP address has been temporarily rate "
        "limited.",
        POLICY,
        "auth_failure",
    ),
    (
        "4.7.23",
        451,
        "The sending IP address for this message doesn't have a PTR record, or the PTR "
        "record's forward DNS entry doesn't match the sending IP address. To protect users "
        "from spam, your email has been temporarily rate limited.",
        POLICY,
        "require_ptr",
    ),
    (
        "5.7.0",
        550,
        "Email relay denied 192.0.2.1. The sending email account has been temporarily "
        "suspended due to abuse.",
        POLICY,
        "relay_denied",
    ),
    (
        "5.7.1",
        550,
        "Messages with multiple addresses in the From: header are not accepted.",
        SOFT,
        "not_compliant",
    ),
    ("4.7.0", 421, "Connection expired, try reconnecting.", SOFT, "system_error"),
    (
        "5.5.4",
        501,
        "HELO/EHLO argument example invalid closing connection.",
        POLICY,
        "blocked",
    ),
    (
        "5.2.1",
        550,
        "The email account that you tried to reach is inactive.",
        FULL,
        "suspended",
    ),
    (
        "5.1.1",
        550,
        "The email account that you tried to reach does not exist. Please double-check the "
        "recipient's email address for typos or unnecessary spaces.",
        HARD,
        "user_unknown",
    ),
]


@pytest.mark.parametrize(("status", "code", "text", "category", "detail"), GMAIL_REFERENCE)
def test_gmail_smtp_error_reference(status, code, text, category, detail):
    outcome = classify_bounce(status, code, f"{code} {status} {text} - gsmtp")
    assert (outcome.category, outcome.detail) == (category, detail)


@pytest.mark.parametrize(
    ("status", "code", "diagnostic", "category", "detail"),
    [
        # Yahoo refuses an unknown recipient after the data (its own sample notice); its
        # wording is the provider's, not a filter's verdict
        (
            "5.0.0",
            552,
            "192.0.2.7 failed after I sent the message. Remote host said: 552 1 Requested mail "
            "action aborted, mailbox not found",
            HARD,
            "user_unknown",
        ),
        (
            "5.0.0",
            554,
            "192.0.2.7 failed after I sent the message. Remote host said: 554 delivery error: "
            "dd This user doesn't have a yahoo.com account (kim@yahoo.com) [-5]",
            HARD,
            "user_unknown",
        ),
        (
            None,
            421,
            "421 Max message per connection reached, closing transmission channel",
            SOFT,
            "rate_limited",
        ),
        # Apple iCloud Mail: the sending IP refused at connection
        (None, 554, "554 p01-smtpin.example ESMTP not accepting connections", POLICY, "blocked"),
    ],
)
def test_yahoo_and_icloud(status, code, diagnostic, category, detail):
    outcome = classify_bounce(status, code, diagnostic)
    assert (outcome.category, outcome.detail) == (category, detail)


@pytest.mark.parametrize(
    ("diagnostic", "detail"),
    [
        # wordings split so each part has a rare literal (same matches as the one pattern)
        ("550 5.2.1 The email account that you tried to reach is disabled", "suspended"),
        ("550 5.2.1 Your mailbox is currently suspended", "suspended"),
        ("550 5.2.1 This account is frozen", "suspended"),
        ("550 5.1.1 bad recipient address", "user_unknown"),
        ("550 5.1.1 Invalid mailbox", "user_unknown"),
        ("553 5.1.7 Bad sender address", "sender_rejected"),
        ("553 5.1.7 Invalid sender address", "sender_rejected"),
    ],
)
def test_split_wordings_keep_their_meaning(diagnostic, detail):
    status = diagnostic.split()[1]
    assert classify_bounce(status, int(diagnostic[:3]), diagnostic).detail == detail


@pytest.mark.parametrize(
    ("code", "diagnostic", "detail"),
    [
        # Outlook.com Postmaster "SMTP Error Codes": every RP code's rate or connection limit is
        # "related to IP/domain reputation"; SC/DY/OU are refusals for the sending IP
        (
            421,
            "421 RP-001 (BAY004-MC1F15) Unfortunately, some messages from 192.0.2.1 weren't sent. "
            "Please try again. We have limits for how many messages can be sent per hour and per "
            "day.",
            "blocked",
        ),
        (421, "421 4.7.0 [RP-003] too many connections", "blocked"),
        (550, "550 SC-001 Mail rejected by Outlook.com for policy reasons.", "blocked"),
        (550, "550 DY-001 Mail rejected by Outlook.com for policy reasons.", "blocked"),
    ],
)
def test_outlook_com_postmaster_codes(code, diagnostic, detail):
    outcome = classify_bounce(None, code, diagnostic)
    assert (outcome.category, outcome.detail) == (POLICY, detail)


@pytest.mark.parametrize(
    ("code", "diagnostic", "category", "detail"),
    [
        # Comcast postmaster "Mail delivery error codes": ES codes are dynamic/residential IP
        # space, BL codes the sending IP's spam patterns or blocklists; "Too many sessions
        # opened" its connection limit
        (
            554,
            "554 resimta-ch2-18v.sys.comcast.net 192.0.2.1 rejected, see "
            "http://postmaster.comcast.net/smtp-error-codes.php#BL000000",
            POLICY,
            "blocked",
        ),
        (554, "554 192.0.2.1 ES000010 see postmaster.comcast.net", POLICY, "blocked"),
        (421, "421 - [Too many sessions opened]", SOFT, "rate_limited"),
    ],
)
def test_comcast_codes(code, diagnostic, category, detail):
    outcome = classify_bounce(None, code, diagnostic)
    assert (outcome.category, outcome.detail) == (category, detail)


def test_exchange_helo_requires_domain_address():
    # Exchange Server DSN reference: our HELO name (policy, the sending host)
    outcome = classify_bounce("5.0.0", 550, "550 5.0.0 HELO / EHLO requires domain address")
    assert (outcome.category, outcome.detail) == (POLICY, "blocked")


@pytest.mark.parametrize(
    ("code", "diagnostic", "category", "detail"),
    [
        # Broadcom Email Security.cloud (MessageLabs) KB: an invalid address in the domain
        (553, "553 Recipient mailbox is not allowed", HARD, "user_unknown"),
        # qmail-smtpd: our envelope sender is on the receiver's badmailfrom list
        (
            553,
            "553 sorry, your envelope sender is in my badmailfrom list (#5.7.1)",
            POLICY,
            "sender_rejected",
        ),
        # Cloudflare Email Routing postmaster page: the sending IP on an RBL
        (
            554,
            "554 192.0.2.1 found on one or more RBLs (abusixip). Refer to "
            "https://developers.cloudflare.com/email-routing/postmaster/",
            POLICY,
            "blocked",
        ),
    ],
)
def test_gateway_references(code, diagnostic, category, detail):
    outcome = classify_bounce(None, code, diagnostic)
    assert (outcome.category, outcome.detail) == (category, detail)


@pytest.mark.parametrize(
    ("status", "code", "diagnostic", "category", "detail"),
    [
        # Microsoft Learn NDR reference (Exchange Online 4.7.32x / 5.7.32x): the destination's
        # TLS or DANE failed, a transport condition (soft), whatever the X.7.x code says
        (
            "4.7.323",
            451,
            "451 4.7.323 tlsa-invalid: The domain failed DANE validation",
            SOFT,
            "tls_required",
        ),
        (
            "5.7.322",
            550,
            "550 5.7.322 certificate-expired: Destination mail server's certificate is expired",
            SOFT,
            "tls_required",
        ),
        # Exchange: the recipient's domain does not exist in DNS
        (
            "5.4.310",
            550,
            "550 5.4.310 DNS domain example.org does not exist [Message=InfoDomainNonexistent]",
            HARD,
            "host_unknown",
        ),
    ],
)
def test_exchange_online_transport_failures(status, code, diagnostic, category, detail):
    outcome = classify_bounce(status, code, diagnostic)
    assert (outcome.category, outcome.detail) == (category, detail)


def test_qq_mail_connection_denied():
    # Tencent QQ Mail help 122/170: the sending IP refused (policy), not an undefined 550
    diagnostic = "550 Connection denied. https://service.mail.qq.com/detail/122/170"
    outcome = classify_bounce(None, 550, diagnostic)
    assert (outcome.category, outcome.detail) == (POLICY, "blocked")


@pytest.mark.parametrize(
    ("status", "code", "diagnostic", "category", "detail"),
    [
        # RFC 3463 X.2.2 "the user has exceeded a per-mailbox administrative quota", in any of
        # the word orders MTAs use, with no telling code (the entry alone decides)
        (None, None, "Quota exceeded (mailbox for user is full)", FULL, "mailbox_full"),
        (None, None, "mailbox quota violation", FULL, "mailbox_full"),
        (None, 550, "550 user is over quota", FULL, "mailbox_full"),
        (None, 550, "550 mailbox is overquota", FULL, "mailbox_full"),
        (None, None, "mailfolder is over the allowed quota", FULL, "mailbox_full"),
        (None, None, "user has exceeded the storage quota", FULL, "mailbox_full"),
        (None, None, "this message exceeds quota for the recipient", FULL, "mailbox_full"),
        ("4.3.0", None, "Disk quota exceeded", FULL, "mailbox_full"),
        # ... and the sender's own limits stay ours: a rate limit, not the recipient's mailbox
        ("5.4.5", 550, "550 5.4.5 Daily user sending quota exceeded", SOFT, "rate_limited"),
        ("5.2.2", 550, "550 5.2.2 Submission quota exceeded", SOFT, "rate_limited"),
        # RFC 3463 X.2.2 "mailbox full"; the folder that stores the mailbox (Sendmail/cyrus)
        (None, None, "The user's mailfolder is full.", FULL, "mailbox_full"),
        ("5.0.0", None, "mail box is full", FULL, "mailbox_full"),
        # RFC 3463 X.1.2: the destination system does not exist, as MTAs word it
        ("5.0.0", None, "No such domain.", HARD, "host_unknown"),  # Courier esmtpclient.c
        (
            "5.0.0",
            None,
            "DNS lookup failure: host example.org not found",  # DragonFly dma net.c
            HARD,
            "host_unknown",
        ),
        ("5.0.0", None, "Host or domain name not found. Name service error", HARD, "host_unknown"),
        (
            "5.0.0",
            550,
            "550 Host unknown (Name server: example.org: host not found)",
            HARD,
            "host_unknown",
        ),
        ("5.0.0", None, "Unknown host: kim@example.org", HARD, "host_unknown"),  # IMail
        ("5.0.0", 550, "550 domain example.org does not exist", HARD, "host_unknown"),
        ("4.0.0", 450, "450 domain name not found", SOFT, "host_unknown"),
        # RFC 5321 550 "mailbox unavailable (e.g., mailbox not found ...)"; RFC 3463 X.1.1
        (None, 550, "550 User not found (in reply to RCPT TO command)", HARD, "user_unknown"),
        (None, 550, "550 Recipient not found", HARD, "user_unknown"),
        (None, 550, "550 Requested action not taken: mailbox not found", HARD, "user_unknown"),
        (None, 550, "550 the user was not found", HARD, "user_unknown"),
        (None, 550, "550 recipient invalid", HARD, "user_unknown"),
        (None, 550, "550 mailbox unavailable", HARD, "user_unknown"),
        ("4.0.0", 450, "450 mailbox unavailable", SOFT, "user_unknown"),
    ],
)
def test_generic_rfc_wordings_in_any_mta_words(status, code, diagnostic, category, detail):
    outcome = classify_bounce(status, code, diagnostic)
    assert (outcome.category, outcome.detail) == (category, detail)
