"""Infobip SMS delivery report error ids (`results[].error.id`).

Source: Infobip, "Response status and error codes", handset errors (group 1), whose ids are
the GSM MAP error codes:
https://www.infobip.com/docs/essentials/api-essentials/response-status-and-error-codes
"""

from __future__ import annotations

from bounce_worker.domain.sms_codes import (
    ABSENT,
    BARRED,
    HARD,
    TRANSIENT,
    rows,
)

SOURCE = "https://www.infobip.com/docs/essentials/api-essentials/response-status-and-error-codes"

CODES = rows(
    "infobip",
    SOURCE,
    [
        ("1", HARD, "EC_UNKNOWN_SUBSCRIBER"),
        ("5", HARD, "EC_UNIDENTIFIED_SUBSCRIBER"),
        ("6", ABSENT, "EC_ABSENT_SUBSCRIBER_SM"),
        ("9", HARD, "EC_ILLEGAL_SUBSCRIBER"),
        ("11", HARD, "EC_TELESERVICE_NOT_PROVISIONED"),
        ("12", HARD, "EC_ILLEGAL_EQUIPMENT"),
        ("13", BARRED, "EC_CALL_BARRED"),
        ("21", TRANSIENT, "EC_FACILITY_NOT_SUPPORTED"),
        ("27", ABSENT, "EC_ABSENT_SUBSCRIBER"),
        ("31", TRANSIENT, "EC_SUBSCRIBER_BUSY_FOR_MT_SMS"),
        ("32", TRANSIENT, "EC_SM_DELIVERY_FAILURE"),
        ("33", ABSENT, "EC_MESSAGE_WAITING_LIST_FULL"),
        ("34", TRANSIENT, "EC_SYSTEM_FAILURE"),
        ("35", TRANSIENT, "EC_DATA_MISSING"),
        ("36", TRANSIENT, "EC_UNEXPECTED_DATA_VALUE"),
    ],
)
