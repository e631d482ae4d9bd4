"""How MTAs name the SMTP command a refusal answered (run on the lower-cased diagnostic).

The stage tells whose problem a refusal is (RFC 5321 section 3.3: the recipient is named
only at RCPT TO): a refusal after connect, EHLO or MAIL FROM never concerned the recipient;
a "user unknown" in reply to DATA comes after the server accepted the recipient, so it is a
content filter's verdict.
"""

from __future__ import annotations

import re

# Postfix bounce(8) texts "(in reply to RCPT TO command)"; Exim "SMTP error from remote mail
# server after RCPT TO:<...>"; Sendmail's transcript ">>> RCPT To:<...>"; DragonFly dma
# "did not like our RCPT TO".
# Postfix smtpd(8) prefixes every refusal of its recipient restrictions, which answer RCPT
# TO, with "Recipient address rejected:".
# qmail-remote.c reports a refusal at RCPT TO as "<host> does not like recipient.".
# Gmail's old text bounces end the remote reply with "(state N)", its SMTP client's state
# when refused: 14 at RCPT TO; 6 (MAIL FROM) and 13 (EHLO) before it; 15, 17 and 18 after
# DATA (the states as tabled with their commands in Sisimai's Lhost::Google).
# 1&1 and GMX (mail.com) reports: "SMTP error from remote server after RCPT command:", and
# "... for TEXT command" for the reply to the message text (DATA); "SMTP Server <x> rejected
# recipient <y> (Error following RCPT command)" (the format Sisimai names Lhost::X6).
# Exim writes "after pipelined RCPT TO:" when the command went in a PIPELINING batch
# (transports/smtp.c check_response(): "SMTP error from remote mail server after %s%s",
# pl = "pipelined "), the same for MAIL FROM and DATA.
RCPT_STAGE = re.compile(
    r"(?:in reply to|after(?: pipelined)?|>>>|did not like our) ?rcpt to|"
    r"recipient address rejected|"
    r"does not like recipient|\(state 14\)|after rcpt command|error following rcpt command"
)
# Postfix "(in reply to MAIL FROM command)", "(in reply to EHLO/HELO command)", "host x
# refused to talk to me" (Postfix smtp(8)); Exim "after initial connection", "after EHLO",
# "after MAIL FROM"; Sendmail ">>> MAIL From:"; a refusal in the server's greeting. The DSN
# parser adds "(in reply to connect)" where the report's prose names the greeting or the
# connection (parsers.mta_text.smtp_command).
SENDER_STAGE = re.compile(
    r"after (?:pipelined )?(?:initial connection|connect|ehlo|helo|mail from)|"
    r"in reply to (?:mail from|ehlo|helo|connect)|>>> mail from|refused to talk to me|greeting|"
    # qmail-remote.c: "Connected to <host> but sender was rejected." / "but my name was
    # rejected." (MAIL FROM / HELO)
    r"but (?:sender|my name) was rejected|\(state (?:6|13)\)"
)
# RFC 1870 (SMTP SIZE extension) section 6.1: the server answers MAIL FROM ... SIZE=n with
# "452 insufficient system storage" when it lacks room now and "552 message size exceeds fixed
# maximium message size" when the message is over its fixed limit. So a refusal at MAIL FROM
# is about our message's size, not its sender, when its code says so: the size codes of RFC
# 3463 (X.2.3 message length exceeds administrative limit, X.3.4 message too big for system)
# and RFC 6710 (X.7.16 too big for the priority), or the bare 552 / 452 with no more specific
# enhanced code (X.0.0, X.2.0, X.3.0: the areas those two replies belong to).
SIZE_CODES = frozenset({(2, 3), (3, 4), (7, 16)})
_SIZE_AREAS = frozenset({None, (0, 0), (2, 0), (3, 0)})
_SIZE_REPLIES = {552: "message_too_big", 452: "system_full"}


def size_refusal(key: tuple[int, int] | None, smtp_code: int | None) -> str | None:
    """The reason of a refusal at MAIL FROM that RFC 1870 makes a size refusal, else None."""
    if key in SIZE_CODES:
        return "message_too_big"
    if key in _SIZE_AREAS:
        return _SIZE_REPLIES.get(smtp_code)  # type: ignore[arg-type]
    return None


# A session that failed at that stage without a reply: no refusal at all, a network failure.
# Postfix smtp_proto.c "conversation with %s timed out while %s" / "lost connection with %s
# while %s" (%s: "receiving the initial server greeting", "performing the EHLO handshake",
# "sending MAIL FROM", ...); Exim transports/smtp.c "SMTP timeout after %s" / "Remote host
# closed connection in response to %s" (%s: "initial connection", "EHLO", "MAIL FROM:<x>").
NO_REPLY_AT_STAGE = re.compile(
    r"timed out while|lost connection with|smtp timeout after|closed connection in response to"
)
# Postfix "(in reply to end of DATA command)"; Exim "after end of data", "after DATA";
# Sendmail ">>> DATA"; Courier "SMTP command: DATA"; McAfee-style filtering gateways.
# qmail-remote.c: "<host> failed after I sent the message." (the reply to the data) and
# "<host> failed on DATA command." (the reply to DATA itself).
DATA_STAGE = re.compile(
    r"(?:in reply to|after(?: pipelined)?) (?:end of |final )?data|>>> data|"
    r"smtp command:? data|command data|"
    r"filtering gateway|failed (?:after i sent the message|on data command)|"
    r"\(state 1[578]\)|for text command"
)
# RFC 7504 (SMTP 521/556) and RFC 7505 (null MX) wording, and Sendmail's report of a null MX
# ("550 5.7.27 Host does not accept mail"): the domain takes no mail at all, whatever code.
# Exim's dnslookup router on a null MX (routers/dnslookup.c): "an MX or SRV record indicated
# no SMTP service".
NO_MAIL_ACCEPTED = re.compile(r"(?:host|domain)(?:/domain)? does not accept (?:e-?)?mail")
NO_SMTP_SERVICE = "record indicated no smtp service"  # a plain substring test
# RFC 7504: reply 521 "Host does not accept mail" and 556 "Domain does not accept mail".
# Refusing a recipient at RCPT TO with them, the server says no address there can work.
NO_MAIL_REPLY_CODES = frozenset({521, 556})
