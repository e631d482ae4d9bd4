"""Diagnostic wordings of MTAs and mailbox providers, as named groups (data only).

Patterns run on the lower-cased, ASCII-only diagnostic. Within a stage the groups are tried
in the order listed and the first group with a matching pattern wins; the order is the
priority (size and format wordings mention "spam", rate limits say "blocked", sender
refusals say "does not exist"), and every group names its own stage.

Sources are cited by short names:
  RFC 5321/3463/7372/7505  the standards' reply texts and status code names
  Postfix                  Postfix sources and bounce(8)/smtpd(8)/local(8) texts
  Exim                     Exim specification, chapters on SMTP errors and the appendfile
                           transport
  Sendmail                 sendmail sources (srvrsmtp.c, deliver.c, err.c) and op.me
  qmail                    qmail-local/qmail-remote/qmail-send texts (and vpopmail's)
  Dovecot                  Dovecot LDA/LMTP quota_exceeded_message default
  Courier, OpenSMTPD       their delivery-failure texts
  Domino                   HCL/IBM Domino router messages
  MS365                    Microsoft Learn "Email non-delivery reports and SMTP errors in
                           Exchange Online" and its per-code pages; Exchange NDR texts
  Gmail                    Google Workspace Admin Help "SMTP error reference"
  Yahoo/AOL                Yahoo Sender Hub "SMTP error codes"; AOL postmaster error codes
  Yandex, Mail.ru, Comcast, Orange, iCloud: the providers' postmaster/help pages
"""

from __future__ import annotations

from bounce_worker.domain.rules import (
    OVERRIDES_CODE,
    WHEN_CODE_IS_WEAK,
    Wording,
    WordingGroup,
)


def _w(*pairs: tuple[str, str]) -> tuple[Wording, ...]:
    return tuple(Wording(pattern, source) for pattern, source in pairs)


# RFC 3463 X.1.2 as MTAs word it: "no such domain", "unknown host", "host (x) unknown / not
# found", "domain (name) not found / does not exist". One pattern, spelled out per branch so
# every branch has a rare literal for the classifier's substring pre-check (" not found"
# rather than "host", which most diagnostics contain).
_NO_SUCH_DOMAIN = "|".join(
    [r"\bno such (?:host|domain)\b", r"\bunknown (?:host|domain)\b"]
    + [
        rf"{subject} {predicate}"
        for subject in (r"\bhost(?: or domain)?(?: name)?(?: \S+)?", r"\bdomain(?: name)?(?: \S+)?")
        for predicate in ("unknown", "not found", "does not exist")
    ]
)


def _orange(code: str) -> str:
    """Orange / La Poste reply codes: 'OFR005_104', 'LPN007_426', 'OFR_417', 'LPN416',
    'LPNAAA_101', 'OUK_513'; the last three digits name the condition. One code per pattern,
    so the code is the literal the classifier looks for before running the regex."""
    return rf"\b(?:ofr|lpn(?:aaa)?|ouk)\d{{0,3}}[-_]?{code}\b"


# Orange and La Poste (orange.fr, wanadoo.fr, laposte.net) write a code beside their bilingual
# reply; the meaning of each, from Orange's postmaster error-code table (postmaster.orange.fr,
# and Postmastery's "Orange postmaster SMTP error codes (OFR)" page), as tabled in Sisimai's
# Rhost::FrancePTT.
_ORANGE_SOURCE = (
    "Orange/La Poste postmaster error codes (postmaster.orange.fr; postmastery.com 'Orange "
    "postmaster SMTP error codes OFR'; as tabled in Sisimai Rhost::FrancePTT): "
)
# Netease (163.com, 126.com, yeah.net) writes a code beside its reply; the meaning of each,
# from its published bounce-code table (help.163.com "退信代码说明", as quoted at
# biecuoliao.com/pa/MBRrwEM.html).
_NETEASE_SOURCE = "Netease (163.com) bounce code table '退信代码说明': "
_MS_DANE = (
    "Microsoft Learn NDR reference, Exchange Online 4.7.321-4.7.325 / 5.7.321-5.7.325 (DANE and "
    "TLS): 'starttls-not-supported', 'certificate-expired', 'tlsa-invalid: The domain failed "
    "DANE validation', 'dnssec-invalid', 'certificate-host-mismatch' (the destination server's "
    "TLS, not our message)"
)
_GS = (
    "Google Workspace 'Gmail SMTP errors and codes' (support.google.com/a/answer/3726730, "
    "2026-02 revision): "
)


GROUPS: tuple[WordingGroup, ...] = (
    # ---- texts that decide whatever code the server attached ----------------------------
    # Providers' own reason codes, written into their replies beside a catch-all SMTP code
    # (Facebook "550 5.1.1 RCP-P2", GoDaddy "... IB504", Spectrum "AUP#I-1350", i.ua
    # "mail.i.ua/err/4"): each code names one condition in the provider's published table,
    # so it decides before any wording. (The codes that say "no such account" are in
    # `recipient_not_in_directory`, the blocks and refusals in the policy groups below.)
    WordingGroup(
        name="provider_code_recipient_refuses",
        stage=OVERRIDES_CODE,
        detail="filtered",
        wordings=_w(
            (
                r"\brcp-p[23]\b",
                "Facebook postmaster response codes: RCP-P2 recipient's preferences, RCP-P3 "
                "privacy settings (as tabled in Sisimai Rhost::Facebook)",
            ),
            (r"\.i\.ua/err/10\b", "i.ua mail.i.ua/err/10: not in the address management list"),
        ),
    ),
    WordingGroup(
        name="provider_code_mailbox_disabled",
        stage=OVERRIDES_CODE,
        detail="suspended",
        wordings=_w(
            (r"\brcp-t4\b", "Facebook RCP-T4: recipient address currently deactivated"),
            (r"\.i\.ua/err/3\b", "i.ua mail.i.ua/err/3: mailbox unused for more than 3 months"),
        ),
    ),
    WordingGroup(
        name="provider_code_mailbox_full",
        stage=OVERRIDES_CODE,
        detail="mailbox_full",
        wordings=_w(
            (r"\.i\.ua/err/4\b", "i.ua mail.i.ua/err/4: mailbox is full"),
            (r"account storage limit", "GoDaddy bounceback help: 'Account storage limit'"),
        ),
    ),
    WordingGroup(
        name="provider_code_message_too_big",
        stage=OVERRIDES_CODE,
        detail="message_too_big",
        wordings=_w(
            (r"\bmsg-p1\b", "Facebook MSG-P1: exceeds the maximum size"),
            (r"\bint-p2\b", "Facebook INT-P2: exceeds the maximum size"),
            (r"aup#[a-z-]*1530\b", "Spectrum email error codes: AUP#1530 larger than 20MB"),
            (_orange("514"), _ORANGE_SOURCE + "514 'Taille limite du message atteinte'"),
        ),
    ),
    WordingGroup(
        name="provider_code_rate_limited",
        stage=OVERRIDES_CODE,
        detail="rate_limited",
        wordings=_w(
            (
                r"\bcon-t[1-4]\b",
                "Facebook CON-T1..T4 (too many connections)",
            ),
            (
                r"\bmsg-t1\b",
                "Facebook MSG-T1 (too many recipients)",
            ),
            (
                r" ib(?:007|101|504|510|605|607)\b",
                "GoDaddy bounceback codes: IB007/IB605 too many sessions or recipients, IB101 "
                "high volume, IB504/IB510/IB607 messages or recipients per hour or session",
            ),
            (
                r"aup#[a-z-]*(?:1[34]\d\d|15[458]0)\b",
                "Spectrum AUP#1300-1490 connection and message limits, 1540/1550/1580 too many "
                "in a session, recipients per message or in a short time",
            ),
            (r"\.i\.ua/err/5\b", "i.ua mail.i.ua/err/5: letter sending limit exceeded"),
            (
                r"\b(?:hl:i[cf]c|mi:(?:dmc|sfq)|rp:(?:drc|qrc))\b",
                _NETEASE_SOURCE + "421 HL:ICC too many concurrent connections, HL:IFC too many "
                "messages in a short time, 450/451 MI:DMC messages per connection, RP:DRC "
                "recipients per connection, MI:SFQ sender's messages in 15 minutes over the limit",
            ),
        ),
    ),
    WordingGroup(
        name="provider_code_not_compliant",
        stage=OVERRIDES_CODE,
        detail="not_compliant",
        wordings=_w(
            (r"\bmsg-p3\b", "Facebook MSG-P3: a header field present more than once"),
            (r" ib50[12]\b", "GoDaddy IB501/IB502: blank or IP-address From: not allowed"),
        ),
    ),
    WordingGroup(
        name="provider_code_system_error",
        stage=OVERRIDES_CODE,
        detail="system_error",
        wordings=_w(
            (r"\brcp-t1\b", "Facebook RCP-T1: internal system issue"),
            (r"\bint-t\d\b", "Facebook INT-Tx: internal system issue"),
            (r"aup#[a-z-]*1090\b", "Spectrum AUP#1090: cannot be processed, try later"),
            (
                _orange("505"),
                _ORANGE_SOURCE + "505 '421 4.2.0 Service refuse. Veuillez essayer plus tard. "
                "Service refused, please try later.' in reply to the end of DATA (system error)",
            ),
        ),
    ),
    WordingGroup(
        name="provider_code_network_error",
        stage=OVERRIDES_CODE,
        detail="network_error",
        wordings=_w(
            (r"aup#[a-z-]*1260\b", "Spectrum AUP#1260: IPv6 not processed, connect over IPv4"),
        ),
    ),
    # Gmail's current texts for a refusal caused by our IP, domain or authentication all end
    # "... has been temporarily rate limited" (421/451 4.7.x): the cause decides, not the
    # rate limit, so these come before the groups that read "rate limited" or "quota" (a
    # reputation rate limit is recorded, never counted toward the recipient's soft-bounce
    # limit: SPEC 3 policy). Our own SMTP-relay account refused ("The sending email account
    # has been temporarily suspended") is no disabled mailbox.
    WordingGroup(
        name="sender_reputation_limited",
        stage=OVERRIDES_CODE,
        detail="blocked",
        wordings=_w(
            (
                r"very low reputation of the sending",
                _GS + "421 4.7.0 / 550 5.7.1 'This message is suspicious due to the very low "
                "reputation of the sending IP address / domain'",
            ),
            (
                r"unusual (?:rate|amount) of (?:unsolicited )?(?:e-?)?mail",
                _GS
                + "421 4.7.28 / 550 5.7.28 'Gmail has detected an unusual rate of (unsolicited) "
                "email originating from your IP address ... temporarily rate limited'",
            ),
            (
                r"tenant has exceeded threshold",
                "MS365 NDR 5.7.700-5.7.750 'Access denied, tenant has exceeded threshold' "
                "(Microsoft Learn 'Fix error code 5.7.700 through 5.7.750': the sending "
                "organization sent too much spam or bulk mail and its outgoing mail is blocked)",
            ),
            (
                r"\brp-00[1-3]\b",
                "Outlook.com Postmaster, Troubleshooting, 'SMTP Error Codes': 421 RP-001/RP-002 "
                "rate limit, RP-003 connection limit, each 'related to IP/domain reputation'",
            ),
            (
                r"quota for sending messages that have the same message-id",
                _GS + "421 4.7.28 'this sender exceeded the quota for sending messages that have "
                "the same Message-ID'",
            ),
        ),
    ),
    WordingGroup(
        name="sender_authentication_limited",
        stage=OVERRIDES_CODE,
        detail="auth_failure",
        wordings=_w(
            (
                r"rate limited because (?:it is unauthenticated|spf|dkim|the sending domain "
                r"doesn't have a dmarc|the from: header)",
                _GS + "421 4.7.26/4.7.27/4.7.30/4.7.40/4.7.32 'Your email has been rate limited "
                "because SPF / DKIM authentication didn't pass', '... because it is "
                "unauthenticated', '... doesn't have a DMARC record', '... the From: header "
                "isn't aligned'",
            ),
            (
                r"spf record of the sending domain has one or more suspicious entries",
                _GS
                + "451 4.7.24 / 550 5.7.24 'The SPF record of the sending domain has one or more "
                "suspicious entries'",
            ),
        ),
    ),
    WordingGroup(
        name="sender_ptr_limited",
        stage=OVERRIDES_CODE,
        detail="require_ptr",
        wordings=_w(
            (
                r"(?:does not|doesn't) have a ptr record",
                _GS + "421 4.7.0 / 451 4.7.23 / 550 5.7.25 'The (sending) IP address ... does not "
                "have a PTR record ... temporarily rate limited'",
            ),
        ),
    ),
    WordingGroup(
        name="sender_relay_refused",
        stage=OVERRIDES_CODE,
        detail="relay_denied",
        wordings=_w(
            (
                # ("mail ..." covers the older "Mail Sending denied" and the current "Email ...")
                r"mail sending denied",
                _GS + "550 5.7.0 'Email sending denied' (the sending account disabled or not "
                "registered in its Workspace domain)",
            ),
            (
                r"mail relay denied",
                _GS + "550 5.7.0 'Email relay denied <ip>. Invalid credentials for relay' / 'The "
                "sending email account has been temporarily suspended due to abuse', 'Email "
                "sending denied' (our SMTP-relay account, not the recipient)",
            ),
        ),
    ),
    WordingGroup(
        name="system_storage_full",  # the receiving *system* is full, not the mailbox
        stage=OVERRIDES_CODE,
        detail="system_full",
        wordings=_w(
            (r"insufficient system (?:storage|resources)", "Postfix/Sendmail 452 4.3.1; MS365"),
            (r"mail system full", "RFC 3463 X.3.1"),
            (r"insufficient disk space", "Sendmail 452 4.4.5 Insufficient disk space"),
            (r"no space left on device", "POSIX ENOSPC as quoted by local delivery agents"),
            (r"(?:file ?system|disk) (?:is )?full", "local delivery agents (disk full)"),
            (
                # (the storage the recipient's whole domain is allowed on its host)
                r"domain size limit has been exceeded",
                "SmarterMail NDR 'Reason: The domain size limit has been exceeded' (as quoted "
                "in kb.indsoft.net 'Common email delivery errors')",
            ),
        ),
    ),
    WordingGroup(
        name="mailbox_over_quota",  # servers send these with any code (qmail: "(#5.1.1)")
        stage=OVERRIDES_CODE,
        detail="mailbox_full",
        wordings=_w(
            (
                # RFC 3463 X.2.2 'Mailbox full: ... the user has exceeded a per-mailbox
                # administrative quota', as MTAs word it, in either order: "quota exceeded"
                # (Dovecot quota_exceeded_message 'Quota exceeded (mailbox for user is full)',
                # Exim appendfile 'mailbox quota violation'), "over quota" (Gmail 452 4.2.2
                # 'is over quota'; qmail/vpopmail 'over the allowed quota'), "exceeded the
                # quota" (Exim; Courier). One entry: the same condition in any of the words.
                # (not the sender's own limits: Gmail 550 5.4.5 "Daily user sending quota
                # exceeded", MS365 "Submission quota exceeded", Gmail "exceeded the quota for
                # sending messages")
                r"(?<!sending )(?<!submission )quota (?:exceeded|full|violation)|"
                r"\b(?:over|exceed(?:s|ed)?)(?: (?:its|the|his|her|allowed|storage|mailbox|disk))*"
                r" ?quota(?! for sending)",
                "RFC 3463 X.2.2; Dovecot; Exim appendfile; Courier; qmail/vpopmail; Gmail 4.2.2",
            ),
            (
                # (ends "please try again later": read here first, not as a temporary refusal)
                r"overdrawn (?:his |her |its )?disk ?space quota",
                "Postfix VDA quota patch, DEF_VIRT_MAILDIR_LIMIT_MESSAGE 'Sorry, the user's "
                "maildir has overdrawn his diskspace quota, please try again later.'",
            ),
            (
                r"error writing message: file too large",
                "Postfix local(8) at mailbox_size_limit (EFBIG)",
            ),
            (
                r"mail file size exceeds the maximum",
                "Sendmail 552 'Mail file size exceeds the maximum size allowed for mail delivery'",
            ),
            (r"quotaexceeded", "MS365 STOREDRV.Deliver QuotaExceededException"),
            (
                # the mailbox, or the folder that stores it (Sendmail/cyrus 'mailfolder is full')
                r"mail ?(?:box|folder) (?:is )?full",
                "RFC 3463 X.2.2 'mailbox full'; Yahoo; Postfix; Sendmail/cyrus 'mailfolder is "
                "full'",
            ),
            (r"mailbox size limit", "Yandex 5.2.2; Postfix virtual(8) mailbox_size_limit"),
            (r"full mailbox", "common MTA wording"),
            (r"exceeded storage allocation", "RFC 5321 552 reply text"),
            (r"insufficient (?:space|storage)", "Courier/cyrus 'insufficient storage'"),
            (r"exceeded storage", "RFC 5321 552 wording variants"),
            (r"mail ?box.{0,20}exceed", "mailbox exceeded (MS365, Domino)"),
            (r"user.{0,10}is full", "Domino 'User's mailbox is full'"),
            (
                r"too many messages (?:in|on) (?:the |this )?(?:mail ?box|folder|server)",
                "qmail/vpopmail and POP servers: message-count quota",
            ),
            (r"storage (?:limit|space) (?:exceeded|reached)", "iCloud; Mail.ru"),
            (r"out of storage space", "Gmail 452 4.2.2 'The recipient's inbox is out of storage'"),
            (r"disk quota", "Exim appendfile / POSIX EDQUOT 'Disk quota exceeded'"),
            (
                r"would exceed (?:the )?(?:maximum allowed storage|(?:mailbox )?quota)",
                "Zimbra/Dovecot 'mailbox would exceed maximum allowed storage'",
            ),
            (r"space has been used up", "Netease/QQ 552 'the user's space has been used up'"),
            (
                r"exhausted allowed storage|speichervolumen \w{0,2}berschritten",
                "Web.de bilingual reply '550 Benutzer hat das Speichervolumen ueberschritten. / "
                "User has exhausted allowed storage space.' (as listed in sitepackage.de "
                "'Typische Fehlermeldungen bei Unzustellbarkeit')",
            ),
            (
                r"bo[i\^]?te (?:du destinataire |aux lettres )?(?:pleine|satur)",
                "Orange/Wanadoo postmaster: 'boite du destinataire pleine' (mailbox full)",
            ),
        ),
    ),
    WordingGroup(
        name="mailbox_disabled",  # the account exists but takes no mail now
        stage=OVERRIDES_CODE,
        detail="suspended",
        wordings=_w(
            (
                r"(?:account|mailbox|user|recipient(?: address)?)(?: has been| is)? (?:is )?"
                r"(?:disabled|suspended|inactive|frozen|locked|expired)",
                "RFC 3463 X.2.1 'mailbox disabled'; Yahoo 'This mailbox is disabled (554.30)'",
            ),
            # (one pattern per state, so the rare word is the literal looked for first)
            (
                r"(?:account|mailbox)\b.{0,40}\bis (?:currently )?disabled",
                "Gmail 550 5.2.1 'The email account that you tried to reach is disabled'",
            ),
            (
                r"(?:account|mailbox)\b.{0,40}\bis (?:currently )?suspended",
                "Gmail 550 5.2.1 'The email account that you tried to reach is disabled'",
            ),
            (
                r"(?:account|mailbox)\b.{0,40}\bis (?:currently )?frozen",
                "Gmail 550 5.2.1 'The email account that you tried to reach is disabled'",
            ),
            (r"(?:account|mailbox) (?:has been |is )?deactivated", "Mail.ru; Yandex"),
            (
                r"(?:account|mailbox)\b.{0,40}\bis (?:currently )?inactive",
                "Gmail 550 5.2.1 'The email account that you tried to reach is inactive'",
            ),
            (
                # (the mailbox's state: Postfix's "delivery temporarily suspended" is a
                # destination its queue manager stopped trying, a network condition)
                r"(?:account|mailbox|user)\b.{0,30}\b(?:temporarily|currently) "
                r"(?:disabled|suspended|deactivated|frozen)",
                "RFC 3463 X.2.1 'mailbox disabled'; Yahoo 'temporarily deactivated'",
            ),
            (r"disabled (?:recipient|account|mailbox|user)", "RFC 7372 X.7.13 name"),
            (
                r"deactivated mailbox",
                "Tencent QQ Mail help (service.mail.qq.com, no=1000742): 'is a deactivated "
                "mailbox' (as Sisimai Rhost::Tencent reads it: suspend)",
            ),
            (
                r"recipient account is ?blocked",
                "Orange/La Poste 'Le compte du destinataire est bloque. The recipient account is "
                "blocked' (LPN007_426)",
            ),
            (
                r"compte du destinataire est bloque",
                "Orange/La Poste 'Le compte du destinataire est bloque. The recipient account is "
                "blocked' (LPN007_426)",
            ),
            (
                r"policy rejection on the target address",
                "Yandex Mail help 'Report on non-delivery to Yandex' (yandex.com/support/mail/"
                "bounces/yandex): 'Policy rejection on the target address' = the recipient's "
                "account has been blocked for User Agreement violations",
            ),
            (
                r"access denied, banned recipient",
                "MS365 NDR 5.7.505 'Access denied, banned recipient'",
            ),
            (
                r"archived recipient",
                "Orange/La Poste 'Boite du destinataire archivee. Archived recipient.'",
            ),
            (
                r"destinataire archivee",
                "Orange/La Poste 'Boite du destinataire archivee. Archived recipient.'",
            ),
            (
                r"account is temporarily limited",
                "au/EZweb notice 'The user(s) account is temporarily limited.' (the recipient's "
                "contract restricted, as Sisimai Lhost::EZweb reads it: suspend)",
            ),
            (r"inactive (?:account|user|mailbox)", "common wording"),
            (r"(?:account|mailbox) (?:is )?not active", "common wording"),
            (r"has been disabled", "common wording"),
            (
                r"(?:due to|because of) (?:extended |prolonged )?inactivity",
                "common wording ('mailbox blocked due to inactivity', 'due to extended "
                "inactivity new mail is not currently being accepted')",
            ),
            (r"account.{0,20}closed", "common wording"),
        ),
    ),
    WordingGroup(
        # Our own (the sender's) address refused: whatever code the server attached (some
        # answer a sender they cannot verify with 5.1.1), the subscriber's mailbox was not
        # the question.
        name="sender_address_refused",
        stage=OVERRIDES_CODE,
        detail="sender_rejected",
        wordings=_w(
            (r"sender address rejected", "Postfix smtpd(8) 'Sender address rejected:' prefix"),
            (r"domain of sender address", "Sendmail 553 5.1.8 'Domain of sender address'"),
            (r"sender verify failed", "Exim ACL 'Sender verify failed'"),
            (
                r"verify (?:the )?sender|sender (?:address )?verification",
                "Postfix reject_unverified_sender / Exim callouts: 'unable to verify sender'",
            ),
            (
                # (Microsoft reuses 5.7.13, RFC 7372's "user account disabled", for a public
                # folder's refusal of unauthenticated senders)
                r"sender (?:was )?not authenticated (?:by|for)",
                "MS365 NDR 5.7.12 'Sender was not authenticated by organization', 5.7.13/5.7.133-"
                "5.7.136 'Sender (was) not authenticated for group/mailbox/public folder'",
            ),
            (
                r" ib506\b",
                "GoDaddy bounceback codes: '550 From: Domain is invalid. Please provide a valid "
                "From: IB506'",
            ),
            (
                # our own account's settings, whatever the code of the failed relay (each
                # pattern keeps a literal, so the classifier's substring pre-check skips it)
                r"'send mail as' (?:feature|account)",
                "Gmail NDR for a misconfigured 'Send mail as' address "
                "(support.google.com/mail/?p=CustomFromDenied)",
            ),
            (r"p=customfromdenied", "Gmail NDR link for a misconfigured 'Send mail as' address"),
        ),
    ),
    WordingGroup(
        name="recipient_filter",  # the recipient's own rules refused: the mailbox exists
        stage=OVERRIDES_CODE,
        detail="filtered",
        wordings=_w(
            (r"recipient preferences", "Gmail/Yahoo 'refused due to recipient preferences'"),
            (r"refuses? to (?:receive|accept)", "common wording of mailbox block lists"),
            (r"blocked by the recipient", "common wording"),
            (r"only accepting mail from", "common wording (allow-list mailboxes)"),
            (r"rejected due to user rules", "common wording"),
            (
                r"mail is rejected by recipients",
                "Tencent QQ Mail help (service.mail.qq.com/detail/122/92): 'mail is rejected by "
                "recipients'",
            ),
            (
                r"cannot route mail to user",
                "HCL/IBM Domino router 'Cannot route mail to user' (as Sisimai Lhost::Domino "
                "reads it: filtered)",
            ),
            (r"message filtered", "common wording"),
            (
                r"(?:does not|doesn't) (?:accept|want) (?:e-?)?mails? from",
                "common wording ('The recipient does not accept mail from this sender')",
            ),
            (
                r"mail delivery failed\.{3} ?user unknown",
                "BIGLOBE's reception filter notice 'Mail Delivery Failed... User unknown' (the "
                "format as Sisimai Lhost::Biglobe reads it: filtered)",
            ),
            # au (KDDI): its reception filter answers "User unknown" with no address at all
            (r"550 : user unknown", "observed: au/EZweb reception filter"),
        ),
    ),
    WordingGroup(
        name="message_too_big",  # a property of this message, not of the mailbox
        stage=OVERRIDES_CODE,
        detail="message_too_big",
        wordings=_w(
            (r"message (?:size )?(?:exceeds|is too (?:big|large))", "Postfix 552 5.3.4"),
            (r"exceeds? (?:the )?(?:fixed )?maximum (?:message )?size", "Sendmail 552 5.2.3"),
            (
                r"exceeds (?:the )?maximum (?:fixed |allowed )(?:message )?size",
                "Exchange/Domino 'Message exceeds maximum fixed size'",
            ),
            (r"message too (?:big|large|long)", "Exim; qmail 'message too long'"),
            (r"message length exceeds", "RFC 3463 X.2.3; Sendmail"),
            (r"message file too big", "Postfix cleanup(8)"),
            (r"size limit exceeded", "common wording"),
            (r"message size limit", "Gmail 552 5.2.3 'exceeded Google's message size limits'"),
            (r"recipsizelimit", "MS365 RESOLVER.RST.RecipSizeLimit 5.2.3"),
            (r"exceeds (?:the )?size limit", "MS365; Yahoo"),
        ),
    ),
    WordingGroup(
        name="message_not_compliant",  # our message's format
        stage=OVERRIDES_CODE,
        detail="not_compliant",
        wordings=_w(
            (r"not rfc ?(?:5322|2822|822) compliant", "Gmail 550 5.7.1 not RFC 5322 compliant"),
            (r"rfc ?(?:5322|2822) (?:specific|compliant)", "Gmail"),
            (r"duplicate header", "Gmail; MS365 5.6.x"),
            (
                r"headers are not rfc compliant",
                "Yahoo Sender Hub SMTP error codes: '554 Message not allowed - Headers are not "
                "RFC compliant'",
            ),
            (
                r"rfc ?5322 section 3\.6\.2 compliant",
                "MS365 NDR 5.7.512 'Access denied, message must be RFC 5322 section 3.6.2 "
                "compliant' (a From: header is required)",
            ),
            (
                r"multiple addresses in (?:the )?from",
                "Gmail 550 5.7.1 'Messages with multiple addresses in the From: header are not "
                "accepted'",
            ),
            (r"headers? (?:is |are )?(?:not valid|malformed|invalid)", "Gmail; MS365"),
            (r"message is malformed", "Gmail 554 5.6.0 'Mail message is malformed'"),
            (
                r"lines too long for transport",
                "Exim smtp transport (message_linelength_limit): 'message has lines too long for "
                "transport'",
            ),
            (
                r"missing a valid (?:address in the from|message-id)",
                "Google Workspace SMTP error reference 550 5.7.1 'Messages missing a valid "
                "address in the From: header / a valid Message-ID: header are not accepted'",
            ),
            (
                r"unicode character in a disallowed header",
                "Google Workspace SMTP error reference 550 5.7.1 'The message contains a unicode "
                "character in a disallowed header'",
            ),
            (
                r"encoded-word syntax is not permitted",
                "Google Workspace SMTP error reference 550 5.7.1 'Encoded-word syntax is not "
                "permitted in message header'",
            ),
        ),
    ),
    WordingGroup(
        name="rate_limited",  # SPEC 3: rate limits are transient, even when worded "blocked"
        stage=OVERRIDES_CODE,
        detail="rate_limited",
        wordings=_w(
            (
                r"too many (?:connections|messages|recipients|concurrent|mails|emails|sessions)",
                "RFC 5321 452 'too many recipients'; Postfix anvil; Exim; Comcast postmaster "
                "'421 - [Too many sessions opened]' (simultaneous connections per IP)",
            ),
            (r"rate limit(?!.{0,60}reputation)", "Gmail 421 4.7.0 'rate limited'"),
            (
                r"frequency limit",
                "Tencent QQ Mail help (service.mail.qq.com/detail/122/172-175): 'Ip/Domain/Sender/"
                "Connection frequency limited'",
            ),
            (
                r"mailbox unavailable or access deni",
                "Tencent QQ Mail help (service.mail.qq.com/detail/122/166): 'Mailbox unavailable "
                "or access denied', a receiving limit (as Sisimai Rhost::Tencent reads it: "
                "speeding)",
            ),
            (
                r"deferred due to excessive volume",
                "Apple iCloud Mail (support.apple.com HT204137): '421 4.7.1 Messages to x deferred "
                "due to excessive volume'",
            ),
            (
                r"aup#cx(?:cnct|mxrt)\b",
                "Cox email error codes: AUP#CXCNCT concurrent connections, AUP#CXMXRT too many "
                "recipients / messages",
            ),
            (
                # (Gmail 421 4.7.28 "unusual rate of unsolicited mail" is IP reputation)
                r"rate of(?! unsolicited| spam)",
                "Gmail 4.2.1/5.2.1 'receiving mail at a rate that prevents'",
            ),
            (r"sending (?:quota|limit)", "Gmail 550 5.4.5 'Daily user sending limit exceeded'"),
            (r"submission quota", "MS365 NDR 5.2.2 'Submission quota exceeded' (the sender's)"),
            (
                # (sent with 4.2.1, which alone would read "mailbox disabled")
                r"receiving (?:e-?)?mail too quickly",
                "Gmail 450 4.2.1 'The user you are trying to contact is receiving email too "
                "quickly' (the 2026 text says 'email', older ones 'mail'); Yahoo '450 User is "
                "receiving mail too quickly'",
            ),
            (
                r"max message per connection",
                "Yahoo SMTP error codes '421 Max message per connection reached, closing "
                "transmission channel' (as tabled in Sisimai Rhost::YahooInc)",
            ),
            (
                # (its "Domain policy" would read as a policy refusal)
                r"try this recipient in a separate transaction|size per transaction exceeded",
                "Google Workspace SMTP error reference '452 4.5.3 Domain policy size per "
                "transaction exceeded, please try this recipient in a separate transaction'",
            ),
            (
                r"smtp relay (?:sending )?limit exceeded",
                "Google Workspace SMTP relay errors: 'Daily/Peak SMTP relay limit exceeded for "
                "user/customer' (550 5.4.5, 550 5.7.1, 450 4.2.1)",
            ),
            (
                # (sent with 5.2.1 too, which alone would read "mailbox disabled")
                r"receiving (?:e-?)?mail at a rate that prevents",
                "Google Workspace 'Gmail SMTP errors and codes': 450 4.2.1 / 550 5.2.1 'The user "
                "you are trying to contact is receiving mail at a rate that prevents additional "
                "messages from being delivered'",
            ),
            (r"receive limit", "MS365 5.2.121/5.2.122 per-hour message receive limit"),
            (
                r"exceeded permitted limits",
                "MS365 NDR 5.7.508 'Access denied, [IP] has exceeded permitted limits within "
                "$range range'",
            ),
            (r"throttl", "common wording"),
            (r"gr[ae]y-?list", "Postgrey/greylisting 450 4.2.0 'Greylisted'"),
        ),
    ),
    WordingGroup(
        # The receiver requires TLS (RFC 3207, RFC 8689): a transport condition, though sent
        # with 5.7.0/4.7.0, which alone would read as a policy refusal.
        name="tls_required_by_receiver",
        stage=OVERRIDES_CODE,
        detail="tls_required",
        wordings=_w(
            (
                r"must issue a starttls command first",
                "RFC 3207 section 4 reply '530 5.7.0 Must issue a STARTTLS command first'; "
                "Google Workspace SMTP error reference",
            ),
            (
                r"tls required for rcpt domain",
                "Google Workspace SMTP error reference '421 4.7.0 TLS required for RCPT domain'",
            ),
            # (three patterns, each with one literal the classifier looks for first)
            (r"(?:tlsa|dnssec)-invalid", _MS_DANE),
            (r"certificate-(?:host-mismatch|expired)", _MS_DANE),
            (r"starttls-not-supported", _MS_DANE),
            (
                r"senders to use tls/ssl",
                "Google Workspace SMTP error reference 4.7.29/5.7.29 'Gmail requires all bulk "
                "email senders to use TLS/SSL for SMTP connections'",
            ),
        ),
    ),
    WordingGroup(
        # A temporary fault of the receiving system, though sent with 4.7.0.
        name="receiver_temporary_problem",
        stage=OVERRIDES_CODE,
        detail="system_error",
        wordings=_w(
            (
                r"temporary system problem",
                "Google Workspace SMTP error reference '421 4.3.0 / 4.7.0 Temporary System "
                "Problem. Try again later'",
            ),
            (
                # (not its "421 4.7.0 Try again later, closing connection": a denial-of-service
                # guard against the sending host at HELO, left to its 4.7.0)
                r"connection expired, try reconnecting",
                _GS + "421 4.7.0 'Connection expired, try reconnecting'",
            ),
        ),
    ),
    # ---- texts that decide when the code is generic --------------------------------------
    WordingGroup(
        # Providers' and directory servers' own words for "no such account": decisive even
        # on their X.7.x catch-all codes. Must precede the policy groups' "access denied".
        name="recipient_not_in_directory",
        stage=WHEN_CODE_IS_WEAK,
        detail="user_unknown",
        wordings=_w(
            (
                # Postfix writes the same words for an access(5) REJECT without text matched
                # on the recipient address (smtpd_check.c check_table_result(): "<%s>: %s
                # rejected: %s", "Recipient address", "Access denied"; 554 5.7.1, a policy
                # class error to Postfix). Kept as unknown: the table entry is about that
                # recipient address, not about our IP, domain or content, so no sender can
                # reach it there; see docs/classification.md "Recipient address rejected:
                # Access denied".
                r"recipient address rejected: access denied",
                "MS365 NDR 5.4.1 'Recipient address rejected: Access denied' (directory-based "
                "edge blocking: the recipient does not exist); Postfix access(5) REJECT on the "
                "recipient address",
            ),
            (
                _orange("416"),
                _ORANGE_SOURCE + "416 '550 5.1.1 Adresse d au moins un destinataire invalide. "
                "Invalid recipient.'",
            ),
            (_orange("418"), _ORANGE_SOURCE + "418 'Adresse d au moins un destinataire invalide'"),
            (
                r"no correct recipients",
                "Yandex Mail help 'Report on non-delivery to Yandex': 'No correct recipients' = "
                "the message was sent to a non-existing address",
            ),
            (r"recipientnotfound|recipnotfound", "MS365 RESOLVER.ADR.RecipNotFound 5.1.1/5.1.10"),
            (
                r"not listed in (?:the )?(?:public name & address book|domino directory|"
                r"(?:the )?directory)",
                "Domino router 'User x not listed in Domino Directory'",
            ),
            (
                r"not found in (?:the )?(?:recipient's )?(?:directory|e-?mail system)",
                "Exchange NDR 'address was not found in the recipient's e-mail system'",
            ),
            (r"email account that you tried to reach does not exist", "Gmail 550 5.1.1"),
            (r"wasn't found at ", "MS365 NDR 5.1.10 '<user> wasn't found at <domain>'"),
            (
                r"address you entered couldn't be found",
                "Exchange 2013+ NDR 5.1.1 'The email address you entered couldn't be found'",
            ),
            (
                r"badrcptto|badrecipientto|not in my validrcptto",
                "qmail badrcptto/validrcptto patches 'your envelope recipient is in my badrcptto "
                "list (#5.7.1)'",
            ),
            (r"doesn't have an? .{1,40}account", "Yahoo 554 'This user doesn't have an account'"),
            (r"not our customer", "Comcast 550 5.1.1 'Not our Customer'"),
            (
                r"recipient mailbox is not allowed",
                "Broadcom Email Security.cloud (MessageLabs) KB 175710 / 165163: '553 Recipient "
                "mailbox is not allowed' = an invalid address in the recipient's domain (as tabled "
                "in Sisimai Rhost::MessageLabs)",
            ),
            (
                # (Yahoo refuses unknown recipients after the data: its own sample notice
                # shows "failed after I sent the message ... This user doesn't have a
                # yahoo.com account"; a provider's wording is no filter's verdict)
                r"requested mail action aborted, mailbox not found",
                "Yahoo SMTP error codes '552 1 Requested mail action aborted, mailbox not found' "
                "(senders.yahooinc.com/smtp-error-codes, as tabled in Sisimai Rhost::YahooInc: "
                "user unknown)",
            ),
            (r"no such user!", "Yandex 550 5.7.1 'No such user!' (the mailbox does not exist)"),
            (
                r"\brcp-p1\b",
                "Facebook RCP-P1: the recipient address does not exist",
            ),
            (
                r"\bint-p[134]\b",
                "Facebook INT-P1/P3/P4: the recipient (or group) address does not exist",
            ),
            (r"\.i\.ua/err/2\b", "i.ua mail.i.ua/err/2: user is not found"),
            (
                r"no valid recipients for this mm\b",
                "Verizon MMS gateway 'Error: No valid recipients for this MM' (Sisimai "
                "Lhost::Verizon: the number does not exist)",
            ),
            (
                r"because the address couldn't be found",
                "Gmail/Google Workspace NDR '** Address not found ** Your message wasn't "
                "delivered to x because the address couldn't be found'",
            ),
        ),
    ),
    WordingGroup(
        # cPanel's Exim configuration words its failure for a recipient or domain that does
        # not resolve "The account or domain may not exist, they may be blacklisted, or
        # missing the proper dns entries": the address is the first explanation given.
        name="account_or_domain_unknown",
        stage=WHEN_CODE_IS_WEAK,
        detail="host_unknown",
        wordings=_w(
            (r"account or domain may not exist", "cPanel exim.conf failure text"),
        ),
    ),
    WordingGroup(
        # RFC 5321 4.2.2 reply 553 "Requested action not taken: mailbox name not allowed (e.g.,
        # mailbox syntax incorrect)": the address itself cannot be delivered to. Before the
        # policy groups, whose "not allowed" it contains.
        name="mailbox_name_not_allowed",
        stage=WHEN_CODE_IS_WEAK,
        detail="bad_address",
        wordings=_w(
            (r"mailbox name not allowed", "RFC 5321 4.2.2 reply 553 text"),
            (
                r"need fully-qualified address",
                "Postfix smtpd(8) reject_non_fqdn_recipient '504 5.5.2 <x>: Recipient address "
                "rejected: need fully-qualified address'; Yandex Mail help lists it as a "
                "non-existing address",
            ),
            (
                r"reserved by rfc ?2606",
                "Exchange NDR 5.1.4/5.1.5 'Recipient address reserved by RFC 2606', 5.1.6 "
                "'Recipient addresses in single label domains not accepted'",
            ),
            (
                r"single label domains not accepted",
                "Exchange NDR 5.1.4/5.1.5 'Recipient address reserved by RFC 2606', 5.1.6 "
                "'Recipient addresses in single label domains not accepted'",
            ),
        ),
    ),
    WordingGroup(
        name="relay_denied",
        stage=WHEN_CODE_IS_WEAK,
        detail="relay_denied",
        wordings=_w(
            (r"relay(?:ing)? (?:access )?(?:denied|not)", "Postfix 554 5.7.1 Relay access denied"),
            (r"not (?:permitted|allowed) to relay", "Sendmail 550 5.7.1 Relaying denied"),
            (
                r"unable to relay",
                "MS365 550 5.7.54 'Unable to relay recipient in non-accepted domain'",
            ),
            (r"mail relay denied", "Gmail 550 5.7.0"),
            (
                r"\(state 12\)",
                "Gmail's old text bounces: '(state 12)', its SMTP client refused relaying "
                "('does not support SMTP Authenticated Relay'; the states as tabled in Sisimai "
                "Lhost::Gmail)",
            ),
            (
                r"following smtp relay error",
                "au by KDDI notice 'Due to the following SMTP relay error' (as Sisimai "
                "Lhost::KDDI reads it: norelaying)",
            ),
            (
                r"allowed rcpthosts",
                "qmail-smtpd 553 'that domain isn't in my list of allowed rcpthosts (#5.7.1)'",
            ),
            (
                r"use me .{0,60}as a relay",
                "MessageLabs 553 'you are trying to use me ... as a relay'",
            ),
        ),
    ),
    WordingGroup(
        name="sender_rejected",  # about the sender's address; says "does not exist" too
        stage=WHEN_CODE_IS_WEAK,
        detail="sender_rejected",
        wordings=_w(
            (
                r"sender (?:address |domain )?(?:rejected|denied|refused|unknown|invalid|verify)",
                "Postfix 'Sender address rejected'",
            ),
            (r"(?:domain|address) of sender", "Sendmail 553 5.1.8 'Domain of sender address'"),
            (r"sender .{0,60}does not exist", "common wording"),
            (r"from:? (?:domain|address) is (?:invalid|not valid)", "common wording"),
            (r"valid from", "common wording"),
            (r"bad outbound sender", "MS365 5.1.8 'Access denied, bad outbound sender'"),
            (
                r"unresolvable rfc\.?5321 from domain",
                "Yahoo Sender Hub SMTP error codes: '451 Message temporarily deferred due to "
                "unresolvable RFC.5321 from domain' (our envelope sender's domain)",
            ),
            (r"sender was rejected", "qmail-remote 'Connected to x but sender was rejected'"),
            (
                r"badmailfrom",
                "qmail-smtpd '553 sorry, your envelope sender is in my badmailfrom list (#5.7.1)'; "
                "Broadcom Email Security.cloud KB 162232 quotes it",
            ),
            (
                # (before the user-unknown wordings: "invalid ... address" is ours here; "bad"
                # apart, so the rarer adjectives are the literals looked for first)
                r"(?:invalid|unknown|unverified|forged) (?:sender|envelope sender|"
                r"return.?path|mail from)\b",
                "Sendmail 553 5.1.7 'Invalid sender address'; RFC 3463 X.1.7 name",
            ),
            (
                r"bad (?:sender|envelope sender|return.?path|mail from)\b",
                "Sendmail 553 5.1.7 'Invalid sender address'; RFC 3463 X.1.7 name",
            ),
        ),
    ),
    WordingGroup(
        name="list_post_refused",
        stage=WHEN_CODE_IS_WEAK,
        detail="not_member",
        wordings=_w(
            (r"permission to post", "Google Groups"),
            (r"not a member", "mailing list managers"),
            (r"not member article from", "fml (fml.org) notice 'NOT MEMBER article from <x>'"),
            (r"reject mail from", "fml (fml.org) notice 'reject mail from <x>'"),
            (r"reject spammers", "fml (fml.org) notice 'reject spammers:'"),
            (r"members only", "mailing list managers"),
            (r"not in (?:the )?allowed.senders", "MS365 5.7.124 sender not in allowed-senders"),
        ),
    ),
    WordingGroup(
        name="authentication_failed",
        stage=WHEN_CODE_IS_WEAK,
        detail="auth_failure",
        wordings=_w(
            (r"dmarc", "Gmail 5.7.26; Yahoo; RFC 7489"),
            (r"aup#cxsndr\b", "Cox email error codes: AUP#CXSNDR (SPF/DomainKeys/DKIM failed)"),
            (r"spf\b", "Gmail 5.7.23/5.7.27; RFC 7208"),
            (r"dkim", "Gmail 5.7.26; RFC 6376"),
            (r"authenticat", "Gmail 5.7.26 'unauthenticated'; RFC 4954"),
            (
                r"not verified",
                "Amazon SES 554 'Email address is not verified' (AWS knowledge center)",
            ),
            (
                r"identities failed",
                "Amazon SES 554 'The following identities failed the check in region' (AWS)",
            ),
        ),
    ),
    WordingGroup(
        name="reverse_dns_required",
        stage=WHEN_CODE_IS_WEAK,
        detail="require_ptr",
        wordings=_w(
            (r"aup#cxdns\b", "Cox email error codes: AUP#CXDNS (reverse DNS of the IP fails)"),
            (
                r"ptr (?:resource )?record",
                "Gmail 550 5.7.25 'does not have a PTR record'; GMX postmaster error messages "
                "(c=rdns) 'Bad DNS PTR resource record'",
            ),
            (r"reverse dns", "common wording"),
            (r"rdns\b", "common wording"),
            (r"ip name lookup", "Postfix reject_unknown_client_hostname"),
            (
                r"cannot find your hostname",
                "Postfix smtpd(8) reject_unknown_client_hostname '450 4.7.1 Client host rejected: "
                "cannot find your hostname, [ip]'",
            ),
            (r"reverse (?:lookup|hostname)", "Postfix 'cannot find your reverse hostname'"),
            (r"unverif[iy]+able", "Postfix"),
        ),
    ),
    WordingGroup(
        name="virus_or_malware",
        stage=WHEN_CODE_IS_WEAK,
        detail="virus_detected",
        wordings=_w(
            (r"\bpol-p5\b", "Facebook POL-P5 (virus)"),
            (r" ib705\b", "GoDaddy IB705 (virus)"),
            (r"virus", "common wording (amavis, ClamAV)"),
            (r"malware", "common wording"),
            (r"potential security issue", "Gmail 552 5.7.0 content presents a security issue"),
        ),
    ),
    WordingGroup(
        name="spam_detected",
        stage=WHEN_CODE_IS_WEAK,
        detail="spam_detected",
        wordings=_w(
            (r"\bpol-p[67]\b", "Facebook POL-P6/P7 (blocked URL, abuse policies)"),
            (r" ib212\b", "GoDaddy IB212 (content judged to be spam)"),
            (_orange("506"), _ORANGE_SOURCE + "506 'Mail rejete. Mail rejected.' (spam)"),
            (r"dt:spm", _NETEASE_SOURCE + "DT:SPM the message looks like spam"),
            # (Spamhaus and SpamCop are IP blocklists: "sender_blocked" below)
            (r"spam(?!haus|cop)", "Gmail 5.7.1 'likely unsolicited mail'; Yandex 554 5.7.1"),
            (r"unsolicited", "Gmail 550 5.7.1"),
            (r"junk ?mail", "common wording"),
            (r"aup#urlbl\d+\b", "Cox email error codes: AUP#URLBLnnn (a URL in the body listed)"),
            (
                r"mail content denied",
                "Tencent QQ Mail help (service.mail.qq.com/detail/122/171): 'mail content denied'",
            ),
        ),
    ),
    WordingGroup(
        name="sender_blocked",  # the sending IP or domain: blocklists, reputation
        stage=WHEN_CODE_IS_WEAK,
        detail="blocked",
        wordings=_w(
            (
                r"\bpol-(?:p[1-4]|t[1-3])\b",
                "Facebook POL-P1..P4, POL-T1..T3: the sending server's IP is not accepted",
            ),
            (
                r" ib1(?:0[3-6]|1[0-3])\b",
                "GoDaddy bounceback codes IB103-IB106 (CSI, Spamhaus lists), IB110-IB113 "
                "(IP blocked for spam or invalid recipients)",
            ),
            (r"\.i\.ua/err/[79]\b", "i.ua mail.i.ua/err/7 (bad HELO), /err/9 (IP blacklisted)"),
            (
                _orange("999"),
                _ORANGE_SOURCE + "999 '421 ... Service refuse. Veuillez essayer plus tard. "
                "Service refused, please try later. OFR_999', the sending IP temporarily blocked",
            ),
            (
                r"\b(?:hl:(?:rep|mep)|dt:rbl|wm:bl[iu])\b",
                _NETEASE_SOURCE + "HL:REP/HL:MEP the IP's sending behaviour (many unknown "
                "recipients, forged domains), DT:RBL the IP is in an RBL, WM:BLI/WM:BLU the IP or "
                "sender is not on the allowed list",
            ),
            (
                r"aup#(?:cxbl|cdrbl|ipbl\d+)\b",
                "Cox email error codes: AUP#CXBL, AUP#CDRBL, AUP#IPBLnnnn (sending IP blocked or "
                "listed)",
            ),
            (
                r"connection denied",
                "Tencent QQ Mail help (service.mail.qq.com/detail/122/170): 'Connection denied', "
                "the sending IP refused (as Sisimai Rhost::Tencent tables it: blocked)",
            ),
            (
                r"suspected (?:spam ip|bounce attack)",
                "Tencent QQ Mail help (service.mail.qq.com/detail/122/57, /66): 'suspected bounce "
                "attacks', 'suspected spam ip'",
            ),
            (
                r"\b(?:es0000(?:01|10)|bl0\d{2,5})\b",
                "Comcast postmaster 'Mail delivery error codes' (postmaster.comcast.net): "
                "ES000001/ES000010 dynamic or residential IP space, BL000000-BL000111 and BL001-"
                "BL0010 the sending IP's spam patterns or blocklist listings",
            ),
            (
                r"aol will not accept delivery|postmaster\.(?:info\.)?aol\.com/errors",
                "AOL postmaster error messages (postmaster.info.aol.com/errors): '521 5.2.1 : "
                "(CON:B1) AOL will not accept delivery of this message', every listed code an IP "
                "block (RTR, HVU, DNS, RLY, DYN, CON blocks) linked to its page there; its 5.2.1 "
                "is no disabled mailbox",
            ),
            (r"blacklist", "common wording"),
            (r"blocklist", "Spamhaus/MS365 5.7.606-649"),
            (r"block ?list", "common wording"),
            (r"black ?list", "common wording"),
            (r"rbl\b", "DNSBL texts"),
            (
                r"on one or more rbls",
                "Cloudflare Email Routing postmaster page: '554 <ip> found on one or more RBLs "
                "(abusixip)'",
            ),
            (r"dnsbl", "DNSBL texts"),
            (r"reputation", "Gmail 4.7.0; MS365"),
            (r"blocked\b", "Spamhaus 'Client host blocked'; AOL RLY:B1"),
            (r"banned", "MS365 5.7.606 'banned sending IP'"),
            (r"client host rejected", "Postfix 'Client host rejected'"),
            (r"mismatch(?:es)? client ip", "common wording"),
            (r"invalid ip", "common wording"),
            (
                r"spamhaus|spamcop|barracuda reputation|\bsorbs\b",
                "DNSBL operators named in refusals (Spamhaus, SpamCop, Barracuda BRBL, SORBS)",
            ),
            (
                r"\b(?:sc-00[1-5]|dy-00[1-2]|ou-00[1-2])\b",
                "Outlook.com postmaster: SC-001..005 (reputation/spam), DY-001/002 (dynamic "
                "IP), OU-001/002 (policy)",
            ),
            (r"bad (?:ip|client)\b", "common wording ('bad IP address', 'bad client')"),
            # (one pattern per literal, so each is looked for before its regex runs; not any
            # "EHLO": Sendmail transcripts show ">>> EHLO" before RCPT TO)
            (
                r"(?:bad|invalid|illegal|forged|spoofed)\b.{0,20}\bhelo\b",
                "Exim/Postfix HELO checks 'Bad HELO', 'invalid HELO name'",
            ),
            (
                r"(?:bad|invalid|illegal|forged|spoofed)\b.{0,20}\behlo\b",
                "Exim/Postfix HELO checks 'Bad HELO', 'invalid HELO name'",
            ),
            (
                r"(?:helo|ehlo)(?: command)? rejected",
                "Postfix smtpd(8) 'Helo command rejected:'",
            ),
            (r"\bin helo\b", "Exim/Postfix HELO checks ('... in HELO')"),
            (
                r"ehlo requires domain address",
                "Exchange NDR '5.0.0 HELO / EHLO requires domain address' (Exchange Server DSN "
                "reference, technet bb232118)",
            ),
            (r"\bin ehlo\b", "Exim/Postfix HELO checks ('... in EHLO')"),
            (r"impersonating", "Exim/Postfix HELO checks 'host impersonating <domain>'"),
            (
                r"ehlo argument",
                _GS + "501 5.5.4 'HELO/EHLO argument <x> invalid', 'Empty HELO/EHLO argument "
                "not allowed' (our HELO name)",
            ),
            (
                r"esmtp not accepting connections",
                "Apple iCloud Mail '554 <host> ESMTP not accepting connections' (the sending IP "
                "refused; as tabled in Sisimai Rhost::Apple from Apple's postmaster page and "
                "Postmastery's iCloud page)",
            ),
            (r"refused to talk", "Postfix smtp(8) 'refused to talk to me'"),
        ),
    ),
    WordingGroup(
        name="content_rejected",
        stage=WHEN_CODE_IS_WEAK,
        detail="content_rejected",
        wordings=_w(
            (r"content (?:rejected|filter)", "common wording"),
            (r"message content", "common wording"),
            (
                r"contains? (?:an? )?(?:invalid|forbidden|prohibited|blacklisted|banned|"
                r"suspicious) (?:link|url|attachment|content)",
                "common wording (content filters' URL and attachment checks)",
            ),
            (r"headers? too (?:large|long)", "Gmail 552 5.6.0; MS365 5.3.x"),
        ),
    ),
    WordingGroup(
        name="policy_refusal",  # catch-all refusals that name no mailbox condition
        stage=WHEN_CODE_IS_WEAK,
        detail="policy_violation",
        wordings=_w(
            (r"access denied", "MS365 5.7.x 'Access denied'"),
            (
                r"administrative prohibition",
                "Exim acl.c: the reply of an ACL 'deny' without its own message, '550 "
                "Administrative prohibition'",
            ),
            (r"denied by policy", "common wording"),
            (r"not allowed", "common wording"),
            (r"not permitted", "common wording"),
            (
                r"polic(?:y|ies)",
                "RFC 3463 X.7.x; Gmail 5.7.1 'has a policy'; Mimecast 554 'security policies'",
            ),
            (r"message rejected", "common wording"),
            (r"service refus", "Orange 'Service refuse'"),
            (r"not accepted due to", "Gmail 5.7.26 'not accepted due to domain's DMARC policy'"),
        ),
    ),
    WordingGroup(
        name="domain_does_not_exist",  # no filter says this
        stage=WHEN_CODE_IS_WEAK,
        detail="host_unknown",
        wordings=_w(
            (
                # RFC 3463 X.1.2 'Bad destination system address: the destination system
                # specified in the address does not exist', as MTAs word it: "no such domain",
                # "unknown host", "host (x) unknown / not found", "domain (name) not found /
                # does not exist". One entry for the one condition.
                _NO_SUCH_DOMAIN,
                "RFC 3463 X.1.2; Sendmail 'Host unknown (Name server: host not found)'; "
                "Ipswitch IMail 'Unknown host: <address>'; Postfix 'Host or domain name not "
                "found', 'Name service error ... Host x not found'; DragonFly dma net.c 'DNS "
                "lookup failure: host %s not found'; Courier module.esmtp/esmtpclient.c "
                "hard_error 'No such domain.'",
            ),
            (r"name service error", "Postfix/Sendmail name service errors"),
            (r"domain (?:name )?is not reachable", "common"),
            (
                r"remote domain doesn'?t exist",
                "au by KDDI notice 'As the remote domain doesnt exist.'",
            ),
            (r"domain.{0,20}unknown", "common wording"),
            (r"illegal (?:host|domain)", "Sendmail"),
            (r"no mx", "common wording"),
            (r"null mx", "RFC 7505"),
            (r"name or service not known", "glibc EAI_NONAME as quoted by MTAs"),
            (r"nxdomain", "DNS RCODE 3 (RFC 1035)"),
            (
                r"dns server returned answer with no data",
                "Gmail NDR 'DNS Error: DNS server returned answer with no data' (no MX or "
                "address record; as Sisimai Lhost::Gmail reads it: hostunknown)",
            ),
            (r"nonexistent ?domain", "MS365 5.4.4 SMTPSEND.DNS.NonExistentDomain"),
            (
                r"dns domain \S+ does not exist",
                "Exchange NDR '550 5.4.310 DNS domain <domain> does not exist "
                "[Message=InfoDomainNonexistent]'",
            ),
            (
                r"find (?:any host|the recipient domain)",
                "qmail 'I couldn't find any host named (#5.1.2)'; Gmail 553 5.1.2",
            ),
            (r"unrouteable mail domain", "Exim"),
            (
                r"find a mail exchanger or ip address",
                "qmail-remote.c 'Sorry, I couldn't find a mail exchanger or IP address. (#5.4.4)'",
            ),
            (
                r"no mail servers appear to exist",
                "hMailServer source/Server/SMTP/ExternalDelivery.cpp 'Error Description: No "
                "mail servers appear to exists for the recipient's address.' (DNS answered: "
                "the domain has no mail host)",
            ),
            (
                r"host address lookups failed permanently",
                "Exim transports/smtp.c 'all host address lookups failed permanently'",
            ),
            (
                r"mx records point to non-?existent hosts",
                "Exim 'all relevant MX records point to non-existent hosts'",
            ),
            (r"domain must exist", "Postfix/Sendmail 'Domain name required' / 'domain must exist'"),
            (r"host name lookup failure", "Exim/Postfix 'host name lookup failure'"),
            (
                # (not "does not accept mail(s) from this sender": a recipient's filter)
                r"(?:host|domain|server)\S* does not accept (?:e-?)?mail(?!s? from)",
                "RFC 7504/7505 wording",
            ),
        ),
    ),
    WordingGroup(
        name="mailbox_moved",  # the address is gone here, the server names its successor
        stage=WHEN_CODE_IS_WEAK,
        detail="has_moved",
        wordings=_w(
            (
                r"user not local; please try",
                "RFC 5321 4.2.2 reply 551 'User not local; please try'",
            ),
            (r"has been replaced by", "RFC 7293 X.7.17 'mailbox owner has changed' notices"),
            (r"mailbox (?:has )?moved", "RFC 3463 X.1.6 'destination mailbox has moved'"),
        ),
    ),
    WordingGroup(
        name="mailbox_does_not_exist",  # a filter's verdict when said after DATA
        stage=WHEN_CODE_IS_WEAK,
        detail="user_unknown",
        wordings=_w(
            (r"user ?unknown", "Sendmail 'User unknown'; Postfix 'User unknown in ... table'"),
            (r"unknown (?:user|recipient|mailbox|address|local.?part)", "Exim; Courier; Postfix"),
            (
                r"no such (?:user|mailbox|recipient|address|account|person)",
                "Exim/cPanel 'No Such User Here'; Yandex 5.7.1 'No such user!'",
            ),
            (r"(?:does not|doesn't|did not|does no longer) exist", "Gmail 5.1.1; iCloud"),
            (
                r"address no longer accepts mail",
                "qmail bouncesaying(1): an address retired with |bouncesaying 'This address "
                "no longer accepts mail.' in its .qmail",
            ),
            (
                # ("bad" apart, so the rarer adjectives are the literals looked for first)
                r"(?:invalid|unknown|unavailable)\b.{0,20}\b(?:recipient|mailbox|userid|user|"
                r"address)\b",
                "OpenSMTPD 'Invalid recipient'; Mail.ru 'invalid mailbox'",
            ),
            (
                r"\bbad\b.{0,20}\b(?:recipient|mailbox|userid|user|address)\b",
                "OpenSMTPD 'Invalid recipient'; Mail.ru 'invalid mailbox'",
            ),
            (r"bad[_ ]recipient", "MTA error-code wording BAD_RECIPIENT"),
            (
                # RFC 5321 4.2.2/4.2.3: 550 'Requested action not taken: mailbox unavailable
                # (e.g., mailbox not found, ...)'; RFC 3463 X.1.1 'The mailbox specified in
                # the address does not exist'. MTAs name the mailbox by the user or the
                # recipient as well (Exchange 'Recipient not found', Mail.ru 'user not found').
                r"\b(?:user|recipient|mailbox)(?: name)? (?:is |was )?(?:not found|unknown)",
                "RFC 5321 550 'mailbox not found'; RFC 3463 X.1.1; Exchange; Mail.ru",
            ),
            (r"recipient invalid", "common wording"),
            (r"mailbox unavailable", "RFC 5321 550 'mailbox unavailable'"),
            (r"mailbox (?:is )?not present", "Exchange/IMail 'mailbox not present'"),
            (
                r"(?:user|mailbox|recipient)(?: name)? (?:is )?(?:invalid|not valid)\b",
                "RFC 3463 X.1.1 as MTAs word it ('User invalid', 'Recipient is not valid')",
            ),
            (r"not (?:a )?(?:valid|known) (?:user|recipient|mailbox)", "Courier; Domino"),
            (r"not an active (?:address|account|mailbox|user)", "common wording"),
            (r"no mail ?box", "qmail 'no mailbox here by that name'; 'No mail box available'"),
            (r"addressee unknown", "Sendmail"),
            (
                r"(?:address|mailbox|recipient) (?:is )?unknown",
                "RFC 3463 X.1.1 'bad destination mailbox address' as MTAs word it "
                "('Address unknown', 'Mailbox unknown')",
            ),
            (r"unrouteable address", "Exim 'Unrouteable address'"),
            (r"recipient address rejected: (?:invalid|unknown|user)", "Postfix"),
            (r"name is not recognized", "common wording"),
            (r"no longer (?:available|active|exists|valid)", "common wording"),
            (
                r"check (?:if|that|whether) (?:the )?(?:e-?mail )?address is (?:correct|valid)",
                "observed: provider help texts",
            ),
            (r"unknown or illegal alias", "Sendmail"),
            (
                r"utilisateur inconnu|destinataire (?:invalide|inconnu)",
                "Orange/La Poste/SFR 550 5.1.1 (French wording)",
            ),
            (
                r"usuario (?:desconocido|inexistente)|no existe (?:dicha persona|ese usuario)",
                "Spanish-language MTAs' 550 5.1.1 wording",
            ),
            (
                r"(?:empf\w{0,2}nger|benutzer|adresse) (?:ist )?unbekannt|"
                r"unbekannte?r? (?:empf|benutzer)",
                "GMX/Web.de and German MTAs: 'Empfaenger unbekannt'",
            ),
            (
                r"(?:empf\w{0,2}nger|benutzer|adresse) (?:ist )?nicht bekannt",
                "Web.de bilingual reply '550 Benutzer nicht bekannt/User unknown' (as listed in "
                "sitepackage.de 'Typische Fehlermeldungen bei Unzustellbarkeit')",
            ),
            (
                r"user not exist|don'?t exists? that user|not user of this server|"
                r"unavailable mail user",
                "Coremail knowledge base, bounce hints 'user not exist', 'local server don't "
                "exists that user', 'not user of this server', 'unavailable mail user' "
                "(icoremail.vip support, category 退信)",
            ),
            (
                r"no account by that name|there is no one at this address",
                "qmail/Courier 550 'no account by that name'",
            ),
            (r"user missing home directory", "Exim/Sendmail local delivery: the user has no home"),
            (r"mail drop defined", "Courier 'no such mail drop defined'"),
            (
                r"unable to deliver message to <[^<>\s]+@[^<>\s]+>",
                "Trend Micro InterScan MSS / TREND VISION ONE: its one wording for a refused "
                "recipient, 'Unable to deliver message to <x> (and other recipients in the same "
                "domain).' (as Sisimai Lhost::TrendMicro reads it: user unknown)",
            ),
        ),
    ),
    WordingGroup(
        name="delivery_expired",
        stage=WHEN_CODE_IS_WEAK,
        detail="expired",
        wordings=_w(
            (r"retry timeout exceeded", "Exim"),
            (r"message expired", "MS365 4.4.7/5.4.300 'Message expired'"),
            (
                r"(?:could not|cannot|can't) (?:be delivered|send message) for (?:the past )?\d+ "
                r"(?:days|hours)",
                "Sendmail 'Cannot send message for 5 days'",
            ),
            (r"in the queue too long", "qmail 'this message has been in the queue too long'"),
            (
                r"not delivered within \d+ days?",
                "au/EZweb notice 'Your message was not delivered within N days and N hours.'",
            ),
            (
                r"could not deliver for the last \d+ seconds",
                "DragonFly dma dma.c 'Could not deliver for the last %d seconds. Giving up.'",
            ),
            (r"delivery time expired", "RFC 3463 X.4.7"),
            (
                r"envelope expired",
                "OpenSMTPD queue.c: envelope_set_errormsg(&evp, 'Envelope expired')",
            ),
            (r"have been failing for a long time", "Exim 'all hosts ... failing for a long time'"),
            (
                r"retry time not reached for any host after a long failure",
                "Exim 'retry time not reached for any host after a long failure period'",
            ),
        ),
    ),
    WordingGroup(
        name="routing_loop",
        stage=WHEN_CODE_IS_WEAK,
        detail="routing_loop",
        wordings=_w(
            (r"loops back to myself", "Postfix"),
            (r"forwarding loop for", "Postfix local/local.c 'mail forwarding loop for %s'"),
            (r"too many hops", "Sendmail 554 5.4.6 'Too many hops'"),
            (r"hop count exceeded", "MS365 5.4.14"),
            (r"(?:mail|routing) loop", "RFC 3463 X.4.6"),
            (r"message is looping", "qmail (#5.4.6)"),
            (
                r"exceeded (?:the )?maximum hop count",
                "Lotus Notes / Domino router 'Message has exceeded maximum hop count'",
            ),
            (
                # (5.4.4, which alone reads as a domain without mail host: this domain's MX
                # points back at the sending server, a DNS configuration error)
                r"mxloopback",
                "Exchange DSN '554 5.4.4 SMTPSEND.DNS.MxLoopback'",
            ),
        ),
    ),
    WordingGroup(
        name="network_failure",
        stage=WHEN_CODE_IS_WEAK,
        detail="network_error",
        wordings=_w(
            (r"connection (?:timed out|refused|reset|closed)", "Postfix smtp(8); Exim"),
            (r"timed out", "Postfix 'conversation with x timed out'"),
            (r"smtp timeout after", "Exim transports/smtp.c 'SMTP timeout after %s'"),
            (r"lost connection", "Postfix 'lost connection with x while ...'"),
            (
                r"closed connection in response to",
                "Exim transports/smtp.c 'Remote host closed connection in response to %s'",
            ),
            (r"delivery temporarily suspended", "Postfix qmgr(8): destination deferred"),
            (r"no route to host", "POSIX EHOSTUNREACH"),
            (r"network is unreachable", "POSIX ENETUNREACH"),
            (r"establish an smtp connection", "qmail (#4.4.1)"),
            (
                r"host lookup did not complete",
                "Exim dnslookup router: 'host lookup did not complete' (a DNS lookup that timed "
                "out or failed temporarily)",
            ),
            (
                r"dns lookup failed",
                "Courier module.esmtp/esmtpclient.c soft_error 'DNS lookup failed.'",
            ),
            (r"network error on destination", "OpenSMTPD 'Network error on destination MXs'"),
        ),
    ),
    WordingGroup(
        name="tls_failure",
        stage=WHEN_CODE_IS_WEAK,
        detail="tls_required",
        wordings=_w(
            (r"starttls", "Gmail 530 5.7.0 'Must issue a STARTTLS command first'"),
            (r"tls (?:is )?required", "Gmail 421 4.7.0 'TLS required'; RFC 8689"),
            (r"tls handshake", "Postfix 'TLS handshake failed'"),
        ),
    ),
    WordingGroup(
        name="local_delivery_program",
        stage=WHEN_CODE_IS_WEAK,
        detail="mailer_error",
        wordings=_w(
            (r"command died with status", "Postfix pipe(8)/local(8)"),
            (r"unknown mailer error", "Sendmail"),
            (r"procmail", "procmail as local delivery agent"),
        ),
    ),
    WordingGroup(
        name="system_failure",
        stage=WHEN_CODE_IS_WEAK,
        detail="system_error",
        wordings=_w(
            (r"temporary (?:system|server|local) (?:problem|error|failure)", "Gmail 421 4.3.0"),
            (r"local error in processing", "RFC 5321 451"),
            (r"internal (?:server )?error", "common wording"),
            (r"service (?:not available|unavailable|temporarily unavailable)", "RFC 5321 421"),
            (r"not accepting network messages", "RFC 3463 X.3.2 (shutdown, load, maintenance)"),
        ),
    ),
    WordingGroup(
        name="protocol_failure",
        stage=WHEN_CODE_IS_WEAK,
        detail="protocol_error",
        wordings=_w(
            (r"syntax error", "RFC 5321 500/501"),
            (r"command (?:not recognized|unrecognized)", "RFC 5321 500"),
            (r"bad sequence of commands", "RFC 5321 503"),
        ),
    ),
    WordingGroup(
        # "Try again later" says only that the refusal is temporary: the last resort. After
        # the policy groups, "blocked ... try again later" is a block (recorded only), not a
        # rate limit that counts toward the soft-bounce limit.
        name="temporary_refusal",
        stage=WHEN_CODE_IS_WEAK,
        detail="rate_limited",
        wordings=_w(
            (r"try again later", "RFC 5321 4yz replies; Sendmail 'try again later'"),
        ),
    ),
)

# Non-ASCII wordings. Patterns run on the ASCII-only text (non-ASCII characters are dropped,
# which keeps every regex on a narrow string); a diagnostic that contains one of these
# phrases gets its English equivalent appended first, in the words of the groups above.
# phrase -> (English equivalent, source)
NON_ASCII_EQUIVALENTS: dict[str, tuple[str, str]] = {
    "ディレクトリのリストにありません": (
        "user not listed in directory",
        "Lotus Notes router, Japanese: 'User not listed in public Name & Address Book' (the "
        "Japanese text as Sisimai Lhost::Notes reads it: userunknown)",
    ),
    "ディレクトリには見つかりません": (
        "user not listed in domino directory",
        "HCL/IBM Domino router, Japanese: 'not listed in Domino Directory' (as Sisimai "
        "Lhost::Domino reads it: userunknown)",
    ),
    "メールボックスが一杯": (
        "mailbox is full",
        "au one net (KDDI) notice '送信先のメールボックスが一杯のため、送信できませんでした' (the "
        "recipient's mailbox is full)",
    ),
}
