"""Inbound SMS keywords: the replies that opt a number out of, or back into, a sender.

The opt-out words are the CTIA Short Code Monitoring Handbook's and Twilio's defaults
(https://help.twilio.com/articles/223134027): STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT;
the opt-in words START and UNSTOP. As the gateways do, only a message that *is* the keyword
counts (case and surrounding blanks and punctuation ignored): "please stop by at five" is
a conversation, not an opt-out.
"""

from __future__ import annotations

from enum import StrEnum

OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN = frozenset({"START", "UNSTOP"})


class Keyword(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


def keyword(text: str | None) -> Keyword | None:
    if not text:
        return None
    word = text.strip().strip(".!?,;:'\"()").strip().upper()
    word = " ".join(word.split())
    if word in OPT_OUT or word == "STOP ALL":
        return Keyword.OPT_OUT
    if word in OPT_IN:
        return Keyword.OPT_IN
    return None
