"""Twilio Programmable Messaging error codes, as sent in a status callback's `ErrorCode`.

Source: Twilio's error and warning dictionary, one page per code,
https://www.twilio.com/docs/api/errors/{code} (e.g. /30005: "Unknown destination handset").
Codes 21xxx are send-time refusals Twilio also reports on the message resource.
"""

from __future__ import annotations

from bounce_worker.domain.sms_codes import (
    ABSENT,
    CARRIER_FILTER,
    HARD,
    OPTED_OUT,
    SENDER,
    TRANSIENT,
    rows,
)

SOURCE = "https://www.twilio.com/docs/api/errors/{code}"

CODES = rows(
    "twilio",
    SOURCE,
    [
        ("30001", TRANSIENT, "Queue overflow"),
        ("30002", SENDER, "Account suspended"),
        # "the device is powered off, has no service ... temporarily unreachable"
        ("30003", ABSENT, "Unreachable destination handset"),
        # the carrier (or the handset's owner) blocks messages to this number
        ("30004", CARRIER_FILTER, "Message blocked"),
        # "the destination number is unknown and may no longer exist"
        ("30005", HARD, "Unknown destination handset"),
        # a landline: it will never receive an SMS
        ("30006", HARD, "Landline or unreachable carrier"),
        ("30007", CARRIER_FILTER, "Message filtered (carrier violation)"),
        ("30008", TRANSIENT, "Unknown error"),
        ("30009", TRANSIENT, "Missing inbound segment"),
        ("30010", SENDER, "Message price exceeds max price"),
        ("30022", TRANSIENT, "US A2P 10DLC - Rate limits exceeded"),
        ("30023", TRANSIENT, "US A2P 10DLC - Daily message cap reached"),
        ("30024", SENDER, "Numeric sender ID not provisioned on carrier"),
        ("30032", SENDER, "Toll-free number has not been verified"),
        ("30034", SENDER, "US A2P 10DLC - Message from an unregistered number"),
        ("21211", HARD, "Invalid 'To' phone number"),
        ("21408", SENDER, "Permission to send an SMS has not been enabled for the region"),
        # the recipient replied STOP to this sender: Twilio refuses to send
        ("21610", OPTED_OUT, "Attempt to send to unsubscribed recipient"),
        ("21614", HARD, "'To' number is not a valid mobile number"),
    ],
)
