"""SMS gateways: delivery reports and replies, from payloads written after each gateway's
documented shape (tests/unit/parsers/fixtures/sms), through the parser and the classifier."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bounce_worker.domain.classify import Category, classify
from bounce_worker.domain.events import Event, EventType, InvalidEvent
from bounce_worker.domain.sms_codes import GATEWAYS, lookup, table
from bounce_worker.parsers._common import NotFeedback, ParseError
from bounce_worker.parsers.sms import Owner, SmsContext, parse_sms
from bounce_worker.parsers.sms.keywords import Keyword, keyword
from tests.unit.parsers.conftest import RECEIVED_AT, fixture_json

NUMBERS = {
    "+15557122661": Owner("acme"),
    "+447700900999": Owner("globex", "alerts"),
    "+41793026999": Owner("initech"),
    "+4915199999999": Owner("umbrella"),
}
CTX = SmsContext(received_at=RECEIVED_AT, numbers=NUMBERS)
CODES_CSV = Path(__file__).parents[1] / "data" / "sms_codes.csv"


def parse(gateway: str, name: str, ctx: SmsContext = CTX) -> list[Event]:
    return parse_sms(gateway, fixture_json(f"sms/{name}"), ctx)


def test_twilio_30005_is_a_hard_bounce_of_the_recipient() -> None:
    [event] = parse("twilio", "twilio_undelivered_30005.json")
    assert (event.type, event.channel, event.recipient) == ("bounce", "sms", "+15017122661")
    assert event.gateway_code == "twilio:30005"
    assert event.organization == "acme"
    assert event.occurred_at == RECEIVED_AT
    assert "Unknown destination handset" in (event.diagnostic or "")
    assert classify(event).category is Category.HARD_BOUNCE
    assert classify(event).reason == "hard_bounce"


def test_twilio_delivered_and_in_flight_statuses() -> None:
    [event] = parse("twilio", "twilio_delivered.json")
    assert event.type is EventType.DELIVERED and event.organization == "acme"
    sent = dict(fixture_json("sms/twilio_delivered.json"))  # type: ignore[call-overload]
    sent["MessageStatus"] = "sent"
    assert parse_sms("twilio", sent, CTX) == []


def test_twilio_stop_unsubscribes_from_the_owner_of_the_number() -> None:
    [event] = parse("twilio", "twilio_inbound_stop.json")
    assert event.type is EventType.UNSUBSCRIBE
    assert (event.recipient, event.organization) == ("+15017122661", "acme")
    assert classify(event).reason == "unsubscribe"


def test_twilio_opt_out_type_overrides_the_body() -> None:
    data = dict(fixture_json("sms/twilio_inbound_stop.json"))  # type: ignore[call-overload]
    data.update(Body="Arrêt", OptOutType="START")
    [event] = parse_sms("twilio", data, CTX)
    assert event.type is EventType.OPT_IN


def test_vonage_absent_subscriber_climbs_the_ladder() -> None:
    [event] = parse("vonage", "vonage_dlr_absent.json")
    assert event.recipient == "+447700900001"
    assert event.gateway_code == "vonage:2"
    assert event.organization == "globex"
    assert event.occurred_at.isoformat() == "2026-11-25T13:10:29+00:00"
    outcome = classify(event)
    assert (outcome.category, outcome.reason) == (Category.MAILBOX_FULL, "subscriber_absent")


def test_vonage_start_is_an_opt_in_for_the_numbers_list() -> None:
    [event] = parse("vonage", "vonage_inbound_start.json")
    assert event.type is EventType.OPT_IN
    assert (event.organization, event.list) == ("globex", "alerts")


def test_infobip_unknown_subscriber_and_quit() -> None:
    [bounce] = parse("infobip", "infobip_dlr_unknown_subscriber.json")
    assert bounce.recipient == "+41793026727" and bounce.gateway_code == "infobip:1"
    assert bounce.organization == "initech"
    assert classify(bounce).category is Category.HARD_BOUNCE
    [stop] = parse("infobip", "infobip_inbound_stop.json")
    assert stop.type is EventType.UNSUBSCRIBE and stop.recipient == "+385916242493"


def test_smpp_receipt_and_mobile_originated_stop() -> None:
    [receipt] = parse("smpp", "smpp_undeliv_absent.json")
    assert receipt.recipient == "+4915112345678"
    assert receipt.gateway_code == "smpp:27"  # err:027 -> MAP absentSubscriber
    assert receipt.occurred_at.isoformat() == "2026-11-25T10:05:00+00:00"
    assert classify(receipt).category is Category.MAILBOX_FULL
    [stop] = parse("smpp", "smpp_mo_stop.json")
    assert (stop.type, stop.organization) == (EventType.UNSUBSCRIBE, "umbrella")


def test_unknown_code_is_a_soft_bounce_that_keeps_the_code() -> None:
    data = dict(fixture_json("sms/twilio_undelivered_30005.json"))  # type: ignore[call-overload]
    data["ErrorCode"] = "39999"
    [event] = parse_sms("twilio", data, CTX)
    outcome = classify(event)
    assert outcome.category is Category.SOFT_BOUNCE
    assert outcome.reason == "unmapped:twilio:39999"
    assert "code not in the table" in (event.diagnostic or "")


def test_a_stop_to_a_number_nobody_owns_is_refused_with_a_reason() -> None:
    with pytest.raises(ParseError, match="not in BOUNCE_WORKER_SMS_NUMBERS"):
        parse("twilio", "twilio_inbound_stop.json", SmsContext(received_at=RECEIVED_AT))


def test_a_conversation_is_not_feedback() -> None:
    data = dict(fixture_json("sms/twilio_inbound_stop.json"))  # type: ignore[call-overload]
    data.update(Body="please stop by at five")
    del data["OptOutType"]
    with pytest.raises(NotFeedback):
        parse_sms("twilio", data, CTX)


@pytest.mark.parametrize(
    ("gateway", "payload", "reason"),
    [
        ("twilio", [], "must be a JSON object"),
        ("twilio", {"MessageStatus": "failed"}, "lacks 'MessageSid'"),
        ("vonage", {"messageId": "x", "status": "failed", "msisdn": "12"}, "phone number"),
        ("infobip", {"results": "no"}, "'results' array"),
        ("smpp", {"short_message": 5}, "short_message"),
        ("nokia", {}, "unknown SMS gateway"),
    ],
)
def test_bad_payloads_end_as_one_line_reasons(gateway: str, payload: object, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_sms(gateway, payload, CTX)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", Keyword.OPT_OUT),
        (" stop. ", Keyword.OPT_OUT),
        ("StopAll", Keyword.OPT_OUT),
        ("Unsubscribe", Keyword.OPT_OUT),
        ("cancel", Keyword.OPT_OUT),
        ("END", Keyword.OPT_OUT),
        ("quit!", Keyword.OPT_OUT),
        ("START", Keyword.OPT_IN),
        ("unstop", Keyword.OPT_IN),
        ("stop it now", None),
        ("", None),
        ("starting soon", None),
    ],
)
def test_keywords(text: str, expected: Keyword | None) -> None:
    assert keyword(text) is expected


with CODES_CSV.open() as _f:
    DOCUMENTED = list(csv.DictReader(_f))


@pytest.mark.parametrize("row", DOCUMENTED, ids=lambda r: f"{r['gateway']}:{r['code']}")
def test_documented_codes_map_to_spec_8_categories(row: dict[str, str]) -> None:
    """Test data: each code with the category the gateway's page implies and that page."""
    found = lookup(f"{row['gateway']}:{row['code']}")
    assert found is not None
    assert found.outcome.category == row["category"]
    assert found.source == row["source"]


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_every_table_row_names_its_source_page(gateway: str) -> None:
    rows = table(gateway)
    assert rows
    for code, row in rows.items():
        assert row.code == code and row.description
        assert row.source.startswith("https://"), row
        assert len(f"unmapped:{gateway}:{code}") <= 64


def test_gateway_code_field_is_validated() -> None:
    base = {
        "event_id": "e",
        "type": "bounce",
        "channel": "sms",
        "recipient": "+15017122661",
        "occurred_at": "2026-11-22T10:00:00Z",
    }
    assert Event.from_dict({**base, "gateway_code": "Twilio:30005"}).gateway_code == "twilio:30005"
    with pytest.raises(InvalidEvent, match="gateway_code"):
        Event.from_dict({**base, "gateway_code": "30005"})


def test_vonage_messages_api_status_and_inbound() -> None:
    # A rejection: its code is the Messages API's own, kept in the reason (no table yet).
    [event] = parse("vonage", "vonage_messages_rejected.json")
    assert (event.type, event.recipient, event.organization) == (
        "bounce",
        "+447700900001",
        "globex",
    )
    assert event.gateway_code == "vonage:messages-1250"
    assert classify(event).category is Category.SOFT_BOUNCE
    assert classify(event).reason == "unmapped:vonage:messages-1250"
    assert "Unroutable message" in (event.diagnostic or "")
    # STOP to globex's number (its alerts list).
    [stop] = parse("vonage", "vonage_messages_inbound_stop.json")
    assert (stop.type, stop.recipient) == ("unsubscribe", "+447700900002")
    assert (stop.organization, stop.list) == ("globex", "alerts")
    submitted = dict(fixture_json("sms/vonage_messages_rejected.json"))  # type: ignore[call-overload]
    submitted["status"] = "submitted"
    assert parse_sms("vonage", submitted, CTX) == []
    whatsapp = dict(fixture_json("sms/vonage_messages_inbound_stop.json"))  # type: ignore[call-overload]
    whatsapp["channel"] = "whatsapp"
    with pytest.raises(NotFeedback):
        parse_sms("vonage", whatsapp, CTX)
