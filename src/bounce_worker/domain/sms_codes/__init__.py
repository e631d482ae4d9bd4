"""SMS gateway error codes -> Outcome (SPEC section 8), one data table per gateway.

Each table row names the documentation page its code comes from. SPEC 8's categories:
the number is permanently unreachable (unknown, invalid, not a mobile): `hard_bounce`,
global block; temporarily unreachable (subscriber absent, phone off, memory full): the
temporary-block ladder; carrier or content filtering and the sender's own registration
problems: policy, recorded only; other transient errors: soft bounce. A gateway's own
opt-out code (Twilio 21610, Vonage 9) is an unsubscribe.

A code that no table holds is a soft bounce whose reason keeps the code
(`unmapped:twilio:30999`), so an operator sees it in history and can add it here.
Pure data and lookups: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from bounce_worker.domain.classify import Category, Outcome

# The fine reasons written on transitions (hard bounces keep SPEC 8's `hard_bounce`).
HARD = Outcome(Category.HARD_BOUNCE, "hard_bounce")
ABSENT = Outcome(Category.MAILBOX_FULL, "subscriber_absent")  # phone off, out of coverage
MEMORY_FULL = Outcome(Category.MAILBOX_FULL, "handset_memory_full")
CARRIER_FILTER = Outcome(Category.POLICY, "carrier_filtered")
CONTENT_FILTER = Outcome(Category.POLICY, "content_filtered")
BARRED = Outcome(Category.POLICY, "barred")  # the subscriber's or operator's call barring
SENDER = Outcome(Category.POLICY, "sender_rejected")  # our account, number or registration
TRANSIENT = Outcome(Category.SOFT_BOUNCE, "soft_bounce")
OPTED_OUT = Outcome(Category.UNSUBSCRIBE, "unsubscribe")

MAX_REASON = 64  # transitions.reason is VARCHAR(64)


@dataclass(frozen=True, slots=True)
class GatewayCode:
    code: str
    outcome: Outcome
    description: str  # the gateway's own words, shown in history as the diagnostic
    source: str  # the documentation page the code and its meaning come from


def table(gateway: str) -> dict[str, GatewayCode]:
    """The code table of one gateway (twilio, vonage, infobip, smpp)."""
    from bounce_worker.domain.sms_codes import gsm, infobip, twilio, vonage

    tables = {
        "twilio": twilio.CODES,
        "vonage": vonage.CODES,
        "infobip": infobip.CODES,
        "smpp": gsm.CODES,
    }
    return tables.get(gateway, {})


GATEWAYS = ("twilio", "vonage", "infobip", "smpp")


def lookup(gateway_code: str) -> GatewayCode | None:
    """`twilio:30005` -> its row, or None when the gateway or the code is not in a table."""
    gateway, _, code = gateway_code.partition(":")
    return table(gateway).get(normalize_code(gateway, code))


def normalize_code(gateway: str, code: str) -> str:
    """Codes as the tables key them: SMPP's `err:001` and Vonage's `"01"` are both `1`."""
    code = code.strip()
    if gateway in ("smpp", "vonage", "infobip") and code.isdigit():
        return str(int(code))
    return code


def classify_code(gateway_code: str) -> Outcome:
    row = lookup(gateway_code)
    if row is not None:
        return row.outcome
    return Outcome(Category.SOFT_BOUNCE, f"unmapped:{gateway_code}"[:MAX_REASON])


def rows(
    gateway: str, source: str, entries: list[tuple[str, Outcome, str]]
) -> dict[str, GatewayCode]:
    """Build a table from (code, outcome, description) rows sharing one documentation page;
    a `{code}` in `source` names each code's own page."""
    return {
        code: GatewayCode(code, outcome, description, source.format(code=code))
        for code, outcome, description in entries
    }
