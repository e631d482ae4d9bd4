"""SMS feedback into PostgreSQL: each gateway's documented payload shapes through the ingest
service (this file) and through the real server and worker (test_sms_http.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from bounce_worker import api, ingest
from bounce_worker.domain.policy import PolicySettings
from bounce_worker.service import Result
from bounce_worker.store.models import DeadLetterRow
from bounce_worker.store.uow import UnitOfWork

FIXTURES = Path(__file__).resolve().parents[1] / "unit" / "parsers" / "fixtures" / "sms"
NUMBERS = {
    "+15557122661": ("acme", None),
    "+447700900999": ("globex", None),
    "+41793026999": ("initech", None),
    "+4915199999999": ("umbrella", None),
}
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def fixture(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((FIXTURES / name).read_text())


def feed(engine: Engine, gateway: str, payload: object, numbers: dict = NUMBERS) -> dict:  # type: ignore[type-arg]
    counts = ingest.ingest_sms(
        engine,
        gateway,
        payload,
        source="test",
        policy=PolicySettings(),
        now=NOW,
        received_at=NOW - timedelta(minutes=1),
        numbers=numbers,
    )
    return {str(k): v for k, v in counts.items()}


def state(engine: Engine, phone: str, organization: str | None = None) -> tuple[str, str | None]:
    verdict = api.check(phone, channel="sms", organization=organization, engine=engine)
    return verdict.state, verdict.reason


def test_gateway_reports_and_replies_in_postgresql(pg_engine: Engine) -> None:
    # Twilio 30005: permanently unreachable -> global block
    assert feed(pg_engine, "twilio", fixture("twilio_undelivered_30005.json")) == {"applied": 1}
    assert state(pg_engine, "+15017122661") == ("blocked", "hard_bounce")
    # Vonage err-code 2 (absent subscriber): the ladder's first day
    feed(pg_engine, "vonage", fixture("vonage_dlr_absent.json"))
    verdict = api.check("+447700900001", channel="sms", engine=pg_engine)
    assert (verdict.state, verdict.reason) == ("temporarily_blocked", "subscriber_absent")
    assert verdict.blocked_until == "2026-11-26T13:10:29Z"
    # Twilio 30007 (carrier filter): recorded only
    filtered = fixture("twilio_undelivered_30005.json") | {
        "ErrorCode": "30007",
        "To": "+15017122662",
        "MessageSid": "SMfiltered",
    }
    feed(pg_engine, "twilio", filtered)
    verdict = api.check("+15017122662", channel="sms", engine=pg_engine)
    assert verdict.state == "active"
    assert [t["reason"] for t in verdict.transitions] == ["carrier_filtered"]


def test_stop_blacklists_for_the_owner_and_start_lifts(pg_engine: Engine) -> None:
    feed(pg_engine, "infobip", fixture("infobip_inbound_stop.json"))
    assert state(pg_engine, "+385916242493", "initech") == ("blacklisted", "unsubscribe")
    assert state(pg_engine, "+385916242493", "acme") == ("active", None)
    start = fixture("infobip_inbound_stop.json")
    start["results"][0] |= {"messageId": "m-2", "text": "START", "cleanText": "START"}
    start["results"][0]["receivedAt"] = "2026-11-26T09:00:00.000+0000"
    feed(pg_engine, "infobip", start)
    assert state(pg_engine, "+385916242493", "initech") == ("active", None)


def test_unattributable_stop_is_dead_lettered_and_chat_is_ignored(pg_engine: Engine) -> None:
    assert feed(pg_engine, "smpp", fixture("smpp_mo_stop.json"), numbers={}) == {"dead_lettered": 1}
    with UnitOfWork(pg_engine) as uow:
        [dead] = uow.session.scalars(select(DeadLetterRow))
        assert "not in BOUNCE_WORKER_SMS_NUMBERS" in dead.reason
    chat = fixture("smpp_mo_stop.json") | {"short_message": "hello", "message_id": "mo-56"}
    assert feed(pg_engine, "smpp", chat) == {str(Result.IGNORED): 1}
    assert state(pg_engine, "+4915112345678", "umbrella") == ("active", None)
