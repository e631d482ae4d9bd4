"""Cross-channel contacts through the real worker, server and CLI into PostgreSQL: events and
manual entries carrying a contact id link an address and a phone of one person; for an
organization with the cross-channel option, an unsubscribe (an SMS STOP) or a complaint on
one channel suppresses the contact's other channels too, with its own transition; without
the option it stays on its channel. The contact card (/v1 and the console) shows both."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from bounce_worker import api
from tests.conftest import Worker, run_cli, set_env, wait_until
from tests.integration.api_support import client, make_key
from tests.integration.http_server import Server
from tests.integration.sms_signing import twilio_form
from tests.integration.test_console_http import signed_in

TWILIO_TOKEN = "test-twilio-" + uuid.uuid4().hex
JANE, JANE_PHONE = "jane@example.org", "+15017122700"
BOB, BOB_PHONE = "bob@example.org", "+15017122701"


@pytest.fixture
def stack(worker_env: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict]:
    set_env(
        monkeypatch,
        console_secret="test-console-secret-of-32-bytes-or-more",
        sms_numbers="+15557122661=acme,+15557122662=globex",
        twilio_auth_token=TWILIO_TOKEN,
        cross_channel_organizations="acme",
    )
    server = Server().start()
    worker = Worker().start()
    yield {"url": server.url, "engine": worker_env, "tmp": tmp_path}
    worker.stop()
    server.stop()


def _event(event_id: str, type_: str, recipient: str, org: str, contact: str) -> dict:
    channel = "sms" if recipient.startswith("+") else "email"
    return {
        "event_id": event_id, "type": type_, "channel": channel, "recipient": recipient,
        "organization": org, "contact_id": contact, "occurred_at": "2026-12-01T10:00:00Z",
        "source": "test",
    }  # fmt: skip


def _publish(tmp: Path, events: list[dict]) -> None:
    path = tmp / f"events-{uuid.uuid4().hex[:6]}.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    done = run_cli("publish", str(path))
    assert done.returncode == 0, done.stderr


def _links(engine: Engine) -> set[tuple[str, str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT organization, contact_id, channel, address FROM contact_links")
        )
        return {tuple(r) for r in rows}  # type: ignore[misc]


def _state(engine: Engine, address: str, org: str) -> tuple[str, str | None]:
    channel = "sms" if address.startswith("+") else "email"
    verdict = api.check(address, channel=channel, organization=org, engine=engine)
    return verdict.state, verdict.reason


def test_stop_on_sms_unsubscribes_the_contacts_email_for_an_opted_in_organization(
    stack: dict,
) -> None:
    url, engine, tmp = stack["url"], stack["engine"], stack["tmp"]
    # The sending platform's own events name the contact: deliveries link address and phone.
    _publish(
        tmp,
        [
            _event("d-1", "delivered", JANE, "acme", "c-42"),
            _event("d-2", "delivered", JANE_PHONE, "acme", "c-42"),
            _event("d-3", "delivered", BOB, "globex", "c-7"),
            _event("d-4", "delivered", BOB_PHONE, "globex", "c-7"),
        ],
    )
    wait_until(lambda: len(_links(engine)) == 4)
    assert ("acme", "c-42", "sms", JANE_PHONE) in _links(engine)

    # Jane replies STOP to acme's Twilio number: the SMS unsubscribe, and (acme has the
    # cross-channel option) her email too, each with its transition.
    stop = {
        "MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": "AC" + "0" * 32,
        "From": JANE_PHONE, "To": "+15557122661", "Body": "STOP", "OptOutType": "STOP",
        "NumMedia": "0", "ApiVersion": "2010-04-01",
    }  # fmt: skip
    body, headers = twilio_form(f"{url}/webhooks/twilio", TWILIO_TOKEN, stop)
    assert httpx.post(f"{url}/webhooks/twilio", content=body, headers=headers).status_code == 200
    wait_until(lambda: _state(engine, JANE, "acme") == ("blacklisted", "unsubscribe"))
    assert _state(engine, JANE_PHONE, "acme") == ("blacklisted", "unsubscribe")
    assert _state(engine, JANE, "globex") == ("active", None)
    history = api.check(JANE, organization="acme", engine=engine).transitions
    assert [t["reason"] for t in history] == ["unsubscribe"]
    assert "cross-channel: unsubscribe on sms +15017122700 (contact c-42" in str(
        history[0]["diagnostic"]
    )
    # START lifts the SMS unsubscribe only: consent is given per channel.
    start = stop | {"MessageSid": "SM" + uuid.uuid4().hex, "Body": "START", "OptOutType": "START"}
    body, headers = twilio_form(f"{url}/webhooks/twilio", TWILIO_TOKEN, start)
    assert httpx.post(f"{url}/webhooks/twilio", content=body, headers=headers).status_code == 200
    wait_until(lambda: _state(engine, JANE_PHONE, "acme") == ("active", None))
    assert _state(engine, JANE, "acme") == ("blacklisted", "unsubscribe")

    # globex has no cross-channel option: Bob's complaint by email stays on email.
    _publish(tmp, [_event("c-1", "complaint", BOB, "globex", "c-7")])
    wait_until(lambda: _state(engine, BOB, "globex") == ("blocked", "complaint"))
    assert _state(engine, BOB_PHONE, "globex") == ("active", None)

    # The contact card shows the person's address and phone, with their states.
    support = make_key("support", name="support-test")
    card = client(url, support).get(f"/v1/contacts/{JANE}", params={"organization": "acme"})
    assert card.status_code == 200, card.text
    [contact] = card.json()["contacts"]
    assert contact["contact_id"] == "c-42" and contact["cross_channel"] is True
    states = {(a["channel"], a["address"], a["state"]) for a in contact["addresses"]}
    assert states == {("email", JANE, "blacklisted"), ("sms", JANE_PHONE, "active")}
    # An owner of another organization sees no contact of acme's.
    other = make_key("owner", "globex", name="globex-owner")
    card = client(url, other).get(f"/v1/contacts/{JANE}")
    assert card.status_code == 200 and card.json()["contacts"] == []


def test_manual_entries_link_a_contact(stack: dict) -> None:
    url, engine = stack["url"], stack["engine"]
    done = run_cli(
        "suppress", "sam@example.org", "--organization", "acme", "--contact", "c-9",
        "--reason", "asked by phone", "--actor", "alice",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    owner = make_key("owner", "acme", name="acme-owner")
    r = client(url, owner).post(
        "/v1/suppress",
        json={"target": "+15017122703", "reason": "asked by phone", "contact_id": "c-9"},
    )
    assert r.status_code == 200, r.text
    assert _links(engine) == {
        ("acme", "c-9", "email", "sam@example.org"),
        ("acme", "c-9", "sms", "+15017122703"),
    }
    card = client(url, owner).get("/v1/contacts/+15017122703", params={"channel": "sms"})
    [contact] = card.json()["contacts"]
    assert {(a["address"], a["state"], a["this"]) for a in contact["addresses"]} == {
        ("sam@example.org", "blacklisted", False),
        ("+15017122703", "blacklisted", True),
    }
    # The console's card shows the same person's other channel, linked to its own card.
    http, csrf = signed_in(url, owner)
    page = http.get("/console/search", params={"q": "+1 501 712 2703"})
    assert page.status_code == 200
    assert "Same person" in page.text and "contact <code>c-9</code> of acme" in page.text
    assert '<a href="/console/search?q=sam%40example.org' in page.text
    # A suppression added in the console links its address too.
    done = http.post(
        "/console/entries/suppress",
        data={
            "csrf": csrf, "address": "sam.work@example.org", "scope": "organization",
            "state": "blacklisted", "reason": "asked by phone", "contact": "c-9",
        },
    )  # fmt: skip
    assert done.status_code == 303, done.text
    assert ("acme", "c-9", "email", "sam.work@example.org") in _links(engine)
