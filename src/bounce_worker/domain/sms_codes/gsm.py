"""GSM MAP error codes, as SMSCs put them in an SMPP delivery receipt's `err:` field.

SMPP 3.4 (Appendix B, "Delivery Receipt Format") leaves `err:` to "a network specific error
code or an SMSC error code"; SMSCs commonly pass the MAP error the mobile network returned.
Source: 3GPP TS 29.002 (Mobile Application Part), section 17.6.6 "Error codes"
(https://www.3gpp.org/DynaReport/29002.htm), the localValue of each MAP error.
"""

from __future__ import annotations

from bounce_worker.domain.sms_codes import (
    ABSENT,
    BARRED,
    HARD,
    TRANSIENT,
    rows,
)

SOURCE = "https://www.3gpp.org/DynaReport/29002.htm (3GPP TS 29.002 section 17.6.6)"

CODES = rows(
    "smpp",
    SOURCE,
    [
        ("1", HARD, "unknownSubscriber: no such number in the HLR"),
        ("5", HARD, "unidentifiedSubscriber"),
        ("6", ABSENT, "absentSubscriberSM: the phone is off or out of coverage"),
        ("9", HARD, "illegalSubscriber"),
        ("11", HARD, "teleserviceNotProvisioned: the subscription has no SMS"),
        ("12", HARD, "illegalEquipment"),
        ("13", BARRED, "callBarred"),
        ("21", TRANSIENT, "facilityNotSupported"),
        ("27", ABSENT, "absentSubscriber"),
        ("31", TRANSIENT, "subscriberBusyForMT-SMS"),
        ("32", TRANSIENT, "sm-DeliveryFailure"),
        ("33", ABSENT, "messageWaitingListFull"),
        ("34", TRANSIENT, "systemFailure"),
        ("35", TRANSIENT, "dataMissing"),
        ("36", TRANSIENT, "unexpectedDataValue"),
    ],
)
