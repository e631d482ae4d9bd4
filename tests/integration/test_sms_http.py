"""SMS gateways through the real `serve` process and a real Celery worker into PostgreSQL:
each gateway's documented sample payloads (tests/unit/parsers/fixtures/sms, written from the
gateways' documentation), signed as each gateway signs them. Forged ones change nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import Engine, text

from bounce_worker import api
from tests.conftest import Worker, set_env, wait_until
from tests.integration import webhook_observe
from tests.integration.http_server import Server
from tests.integration.sms_signing import (
    basic,
    dumps,
    twilio_form,
    vonage_jwt,
    vonage_signed_params,
)

FIXTURES = Path(__file__).resolve().parents[1] / "unit" / "parsers" / "fixtures" / "sms"
TWILIO_TOKEN = "test-twilio-" + uuid.uuid4().hex
VONAGE_SECRET = "test-vonage-" + uuid.uuid4().hex
NUMBERS = "+15557122661=acme,447700900999=globex,+41793026999=initech"


def fixture(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def sms(worker_env: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict]:
    prom = tmp_path / "prom"
    prom.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(prom))
    set_env(
        monkeypatch,
        sms_numbers=NUMBERS,
        twilio_auth_token=TWILIO_TOKEN,
        vonage_signature_secret=VONAGE_SECRET,
        vonage_signature_method="md5hash",
        infobip_user="infobip",
        infobip_password="test-pw-infobip",
    )
    server = Server().start()
    yield {"url": server.url, "engine": worker_env, "prom": prom}
    server.stop()


def _state(engine: Engine, phone: str, org: str | None = None) -> tuple[str, str | None]:
    verdict = api.check(phone, channel="sms", organization=org, engine=engine)
    return verdict.state, verdict.reason


def _vonage_time(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S")


def test_each_gateway_through_server_and_worker(sms: dict) -> None:
    url, engine = sms["url"], sms["engine"]
    worker = Worker().start()
    try:
        # Twilio status callback, ErrorCode 30005 (unknown handset): permanently unreachable.
        body, headers = twilio_form(
            f"{url}/webhooks/twilio", TWILIO_TOKEN, fixture("twilio_undelivered_30005.json")
        )
        r = httpx.post(f"{url}/webhooks/twilio", content=body, headers=headers)
        assert r.status_code == 200, r.text
        assert "<Response>" in r.text
        # Infobip delivery report, EC_UNKNOWN_SUBSCRIBER: permanently unreachable.
        report = fixture("infobip_dlr_unknown_subscriber.json")
        r = httpx.post(
            f"{url}/webhooks/infobip",
            content=dumps(report),
            headers=basic("infobip", "test-pw-infobip"),
        )
        assert r.status_code == 200, r.text
        wait_until(
            lambda: (
                _state(engine, "+15017122661") == ("blocked", "hard_bounce")
                and _state(engine, "+41793026727") == ("blocked", "hard_bounce")
            )
        )

        # Vonage DLR err-code 2 (absent subscriber), three days ago, as a signed-webhook JWT
        # over a JSON body: the ladder's first step, one day.
        now = datetime.now(UTC).replace(microsecond=0)
        first = fixture("vonage_dlr_absent.json") | {
            "message-timestamp": _vonage_time(now - timedelta(days=3))
        }
        body = dumps(first)
        r = httpx.post(
            f"{url}/webhooks/vonage", content=body, headers=vonage_jwt(VONAGE_SECRET, body)
        )
        assert r.status_code == 200, r.text
        phone = "+447700900001"

        def count() -> int:
            return api.check(phone, channel="sms", engine=engine).temporary_block_count

        wait_until(lambda: count() == 1)
        verdict = api.check(phone, channel="sms", engine=engine)
        assert verdict.state == "temporarily_blocked"
        assert verdict.reason == "subscriber_absent"
        assert verdict.blocked_until == (now - timedelta(days=2)).isoformat().replace("+00:00", "Z")
        # An hour ago, after that block ended: absent again, as a GET with the SMS API `sig`
        # (Vonage's default delivery-receipt method): the ladder climbs to two days.
        second = fixture("vonage_dlr_absent.json") | {
            "messageId": "0B00000127FDBC64",
            "message-timestamp": _vonage_time(now - timedelta(hours=1)),
        }
        query = urlencode(vonage_signed_params(VONAGE_SECRET, second))
        r = httpx.get(f"{url}/webhooks/vonage?{query}")
        assert r.status_code == 200, r.text
        wait_until(lambda: count() == 2)
        verdict = api.check(phone, channel="sms", engine=engine)
        assert verdict.state == "temporarily_blocked"
        until = now - timedelta(hours=1) + timedelta(days=2)
        assert verdict.blocked_until == until.isoformat().replace("+00:00", "Z")

        # Twilio 30007 (carrier filtering): recorded, the number stays sendable.
        filtered = fixture("twilio_undelivered_30005.json") | {
            "ErrorCode": "30007",
            "To": "+15017122662",
            "MessageSid": "SMfiltered0000000000000000000000",
            "SmsSid": "SMfiltered0000000000000000000000",
        }
        body, headers = twilio_form(f"{url}/webhooks/twilio", TWILIO_TOKEN, filtered)
        assert (
            httpx.post(f"{url}/webhooks/twilio", content=body, headers=headers).status_code == 200
        )

        def reasons(number: str, org: str | None = None) -> list[str]:
            history = api.check(number, channel="sms", organization=org, engine=engine).transitions
            return [t["reason"] for t in history]

        wait_until(lambda: reasons("+15017122662") == ["carrier_filtered"])
        assert _state(engine, "+15017122662") == ("active", None)
        # A code in no table: a soft bounce whose reason keeps the code, for an operator to map
        unknown = filtered | {
            "ErrorCode": "39999",
            "To": "+15017122663",
            "MessageSid": "SMunknown000000000000000000000000",
            "SmsSid": "SMunknown000000000000000000000000",
        }
        body, headers = twilio_form(f"{url}/webhooks/twilio", TWILIO_TOKEN, unknown)
        assert (
            httpx.post(f"{url}/webhooks/twilio", content=body, headers=headers).status_code == 200
        )
        # (a soft bounce counts per organization: acme's, the owner of the sending number)
        wait_until(lambda: reasons("+15017122663", "acme") == ["unmapped:twilio:39999"])
        assert _state(engine, "+15017122663", "acme") == ("active", None)

        # Inbound STOP to acme's Twilio number (Advanced Opt-Out's OptOutType): blacklisted for
        # acme only; then START lifts it.
        subscriber = "+15017122699"
        stop = fixture("twilio_inbound_stop.json") | {"From": subscriber}
        body, headers = twilio_form(f"{url}/webhooks/twilio", TWILIO_TOKEN, stop)
        assert (
            httpx.post(f"{url}/webhooks/twilio", content=body, headers=headers).status_code == 200
        )
        wait_until(lambda: _state(engine, subscriber, "acme") == ("blacklisted", "unsubscribe"))
        assert _state(engine, subscriber, "globex") == ("active", None)
        start = stop | {
            "Body": "START",
            "OptOutType": "START",
            "MessageSid": "SM4c0e8ae6ade43cb3c0ce4525424e4052",
            "SmsMessageSid": "SM4c0e8ae6ade43cb3c0ce4525424e4052",
            "SmsSid": "SM4c0e8ae6ade43cb3c0ce4525424e4052",
        }
        body, headers = twilio_form(f"{url}/webhooks/twilio", TWILIO_TOKEN, start)
        assert (
            httpx.post(f"{url}/webhooks/twilio", content=body, headers=headers).status_code == 200
        )
        wait_until(lambda: _state(engine, subscriber, "acme") == ("active", None))

        # Infobip inbound QUIT to initech's number, then Vonage inbound... each for its owner.
        quit_ = fixture("infobip_inbound_stop.json")
        r = httpx.post(
            f"{url}/webhooks/infobip",
            content=dumps(quit_),
            headers=basic("infobip", "test-pw-infobip"),
        )
        assert r.status_code == 200, r.text
        wait_until(
            lambda: _state(engine, "+385916242493", "initech") == ("blacklisted", "unsubscribe")
        )
        assert _state(engine, "+385916242493", "acme") == ("active", None)
        # Vonage inbound STOP (form POST, `sig`) to globex's number, then its START fixture.
        vonage_stop = fixture("vonage_inbound_start.json") | {
            "messageId": "0A0000000123ABCD0",
            "text": "STOP",
            "keyword": "STOP",
            "message-timestamp": _vonage_time(now - timedelta(minutes=10)),
        }
        form = urlencode(vonage_signed_params(VONAGE_SECRET, vonage_stop)).encode()
        r = httpx.post(
            f"{url}/webhooks/vonage",
            content=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 200, r.text
        wait_until(lambda: _state(engine, "+447700900001", "globex")[1] == "unsubscribe")
        vonage_start = fixture("vonage_inbound_start.json") | {
            "message-timestamp": _vonage_time(now - timedelta(minutes=5))
        }
        form = urlencode(vonage_signed_params(VONAGE_SECRET, vonage_start)).encode()
        r = httpx.post(
            f"{url}/webhooks/vonage",
            content=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 200, r.text

        def org_entry() -> str | None:
            with engine.connect() as conn:
                return conn.execute(
                    text(
                        "SELECT state FROM entries WHERE channel = 'sms' AND scope = 'organization'"
                        " AND address = '+447700900001'"
                    )
                ).scalar_one_or_none()

        wait_until(lambda: org_entry() == "active")
        # A Messages API inbound STOP, signed with a JWT (Vonage's signed webhooks).
        body = dumps(fixture("vonage_messages_inbound_stop.json"))
        r = httpx.post(
            f"{url}/webhooks/vonage", content=body, headers=vonage_jwt(VONAGE_SECRET, body)
        )
        assert r.status_code == 200, r.text
        wait_until(
            lambda: _state(engine, "+447700900002", "globex") == ("blacklisted", "unsubscribe")
        )
        # The global temporary block (absent subscriber) is not the subscriber's choice: it stays.
        assert _state(engine, "+447700900001", "globex")[0] == "temporarily_blocked"
    finally:
        worker.stop()


def test_bad_signatures_change_nothing(sms: dict) -> None:
    url, engine, prom = sms["url"], sms["engine"], sms["prom"]
    twilio_url = f"{url}/webhooks/twilio"
    report = fixture("twilio_undelivered_30005.json")
    good_body, good_headers = twilio_form(twilio_url, TWILIO_TOKEN, report)
    _, wrong_key = twilio_form(twilio_url, "not-the-token", report)
    _, other_url = twilio_form(f"{url}/webhooks/other", TWILIO_TOKEN, report)
    tampered = good_body.replace(b"30005", b"30006")
    stop = fixture("infobip_inbound_stop.json")
    dlr = fixture("vonage_dlr_absent.json")
    jwt_body = dumps(dlr)
    now = int(datetime.now(UTC).timestamp())
    wrong_secret = urlencode(vonage_signed_params("not-the-secret", dlr))
    stale = urlencode(vonage_signed_params(VONAGE_SECRET, dlr, timestamp=now - 3600))
    unsigned = urlencode(dlr)
    cases = [
        ("POST", "twilio", good_body, {"Content-Type": "application/x-www-form-urlencoded"}, 401),
        ("POST", "twilio", good_body, wrong_key, 401),
        ("POST", "twilio", good_body, other_url, 401),
        ("POST", "twilio", tampered, good_headers, 401),
        ("GET", f"vonage?{wrong_secret}", b"", {}, 401),
        ("GET", f"vonage?{unsigned}", b"", {}, 401),
        ("GET", f"vonage?{stale}", b"", {}, 403),
        ("POST", "vonage", jwt_body, vonage_jwt("not-the-secret", jwt_body), 401),
        (
            "POST",
            "vonage",
            jwt_body.replace(b"failed", b"rejected"),
            vonage_jwt(VONAGE_SECRET, jwt_body),
            401,
        ),
        ("POST", "vonage", jwt_body, vonage_jwt(VONAGE_SECRET, jwt_body, iat=now - 3600), 403),
        ("POST", "infobip", dumps(stop), basic("infobip", "wrong"), 401),
        ("POST", "infobip", dumps(stop), {"Content-Type": "application/json"}, 401),
    ]
    for method, path, body, headers, status in cases:
        r = httpx.request(method, f"{url}/webhooks/{path}", content=body, headers=headers)
        assert r.status_code == status, (path, headers, r.text)
        assert "error" in r.json() and "\n" not in r.json()["error"]
    assert webhook_observe.queued() == 0
    refusals = webhook_observe.refusals(prom)
    assert sum(v for (p, _), v in refusals.items() if p == "twilio") == 4
    assert sum(v for (p, _), v in refusals.items() if p == "vonage") == 6
    assert sum(v for (p, _), v in refusals.items() if p == "infobip") == 2
    assert refusals[("vonage", "stale")] == 2
    assert refusals[("vonage", "bad_payload_hash")] == 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM entries")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM transitions")).scalar_one() == 0
    # The same report, signed right, is accepted: the refusals were the signatures' doing.
    assert httpx.post(twilio_url, content=good_body, headers=good_headers).status_code == 200
    assert webhook_observe.queued() == 1
    # A real worker drains the queue: only that one report left an entry and a history row.
    worker = Worker().start()
    try:
        wait_until(lambda: _state(engine, "+15017122661") == ("blocked", "hard_bounce"))
    finally:
        worker.stop()
    with engine.connect() as conn:
        entries = conn.execute(text("SELECT channel, address, state FROM entries")).all()
        assert [tuple(e) for e in entries] == [("sms", "+15017122661", "blocked")]
        assert conn.execute(text("SELECT count(*) FROM transitions")).scalar_one() == 1


def test_unconfigured_gateway_is_closed(
    worker_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(monkeypatch, sms_numbers=NUMBERS)
    server = Server().start()
    try:
        for path in ("twilio", "vonage", "infobip"):
            r = httpx.post(f"{server.url}/webhooks/{path}", content=b"a=b")
            assert r.status_code == 403, r.text
            assert "not configured" in r.json()["error"]
        assert webhook_observe.queued() == 0
    finally:
        server.stop()
