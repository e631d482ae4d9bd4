"""Vonage (Nexmo) SMS API delivery receipt `err-code` values.

Source: Vonage developer documentation, "Delivery receipts", DLR error codes,
https://developer.vonage.com/en/messaging/sms/guides/delivery-receipts#dlr-error-codes
"""

from __future__ import annotations

from bounce_worker.domain.sms_codes import (
    ABSENT,
    BARRED,
    CARRIER_FILTER,
    CONTENT_FILTER,
    HARD,
    OPTED_OUT,
    SENDER,
    TRANSIENT,
    rows,
)

SOURCE = "https://developer.vonage.com/en/messaging/sms/guides/delivery-receipts#dlr-error-codes"

CODES = rows(
    "vonage",
    SOURCE,
    [
        ("1", TRANSIENT, "Unknown: the message was not delivered and no reason was given"),
        ("2", ABSENT, "Absent Subscriber - Temporary"),
        ("3", HARD, "Absent Subscriber - Permanent"),
        ("4", BARRED, "Call barred by user"),
        ("5", TRANSIENT, "Portability error"),
        ("6", CARRIER_FILTER, "Anti-spam rejection"),
        ("7", TRANSIENT, "Handset busy"),
        ("8", TRANSIENT, "Network error"),
        # "a blacklisted number: the user has already sent a STOP opt-out message"
        ("9", OPTED_OUT, "Illegal number"),
        ("10", CONTENT_FILTER, "Illegal message"),
        ("11", TRANSIENT, "Unroutable"),
        ("12", TRANSIENT, "Destination unreachable"),
        ("13", CARRIER_FILTER, "Subscriber age restriction"),
        ("14", CARRIER_FILTER, "Number blocked by carrier"),
        ("15", TRANSIENT, "Prepaid insufficient funds"),
        ("16", TRANSIENT, "Gateway quota exceeded"),
        ("50", SENDER, "Entity filter (India DLT)"),
        ("51", SENDER, "Header filter (India DLT)"),
        ("52", CONTENT_FILTER, "Content filter (India DLT)"),
        ("53", SENDER, "Consent filter (India DLT)"),
        ("54", SENDER, "Regulation error"),
        ("99", TRANSIENT, "General error"),
    ],
)
