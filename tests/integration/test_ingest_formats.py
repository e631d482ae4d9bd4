"""Each feedback format, well formed and malformed, through ingestion into the database:
the good payload suppresses, a malformed one lands in the dead-letter table with a reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bounce_worker import ingest
from bounce_worker.config import IntakeSettings
from bounce_worker.domain import verp
from bounce_worker.domain.policy import PolicySettings
from bounce_worker.parsers import parse_message
from bounce_worker.service import Result
from bounce_worker.store.models import DeadLetterRow, EntryRow, TransitionRow
from bounce_worker.store.uow import UnitOfWork
from tests.conftest import truncate

FIXTURES = Path(__file__).resolve().parents[1] / "unit" / "parsers" / "fixtures"
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
POLICY = PolicySettings()
INTAKE = IntakeSettings(verp_domain="verp.test", verp_key="test-verp-key-of-32-bytes-or-more")

WEBHOOKS = {
    "ses": ("ses_bounce_sns.json", {"Type": "Notification", "Message": "{not json"}),
    "sendgrid": ("sendgrid_events.json", [{"email": "x@example.com"}]),
    "mailgun": ("mailgun_failed.json", {"event-data": {"event": "failed"}}),
    "postmark": ("postmark_bounce.json", {"RecordType": "Bounce", "Email": 42}),
}
MAILS = {
    "arf": "arf_abuse.eml",
    "mailto-unsubscribe": "mailto_unsubscribe.eml",
    "dsn": "dsn_postfix_org_list.eml",
}
BROKEN_ARF = (
    b"From: fbl@example.net\nSubject: complaint\nMIME-Version: 1.0\n"
    b'Content-Type: multipart/report; report-type=feedback-report; boundary="b"\n\n'
    b"--b\nContent-Type: text/plain\n\nA complaint\n--b\n"
    b"Content-Type: message/feedback-report\n\nFeedback-Type: abuse\n--b--\n"
)


def rows(engine: Engine, model: type) -> list[Any]:
    with UnitOfWork(engine) as uow:
        return list(uow.session.scalars(select(model)))


@pytest.mark.parametrize("provider", sorted(WEBHOOKS))
def test_webhook_formats(any_engine: Engine, provider: str) -> None:
    good, bad = WEBHOOKS[provider]
    payload = json.loads((FIXTURES / good).read_text())
    applied = ingest.ingest_webhook(
        any_engine, provider, payload, source="t", policy=POLICY, now=NOW
    )
    assert applied[Result.APPLIED] >= 1 and rows(any_engine, EntryRow)
    dead = ingest.ingest_webhook(any_engine, provider, bad, source="t", policy=POLICY, now=NOW)
    assert dead == {Result.DEAD_LETTERED: 1}
    (letter,) = rows(any_engine, DeadLetterRow)
    assert letter.kind == "webhook" and letter.reason
    assert json.loads(letter.payload) == {"provider": provider, "payload": bad}


@pytest.mark.parametrize("name", sorted(MAILS))
def test_mail_formats(any_engine: Engine, name: str) -> None:
    """Without a VERP token a mail is recorded as unverified and changes nothing (SPEC 7);
    delivered to the VERP address of its recipient, it suppresses in that organization."""
    raw = (FIXTURES / MAILS[name]).read_bytes()
    applied = ingest.ingest_raw(any_engine, raw, source=name, policy=POLICY, now=NOW, intake=INTAKE)
    assert applied[Result.APPLIED] >= 1
    assert {r.state for r in rows(any_engine, EntryRow)} == {"active"}
    assert {t.reason for t in rows(any_engine, TransitionRow)} == {"unverified"}

    recipient = parse_message(raw, received_at=NOW)[0].recipient
    token = verp.encode(recipient, "org-7", "news", key=INTAKE.verp_key, domain="verp.test")
    truncate(any_engine)
    applied = ingest.ingest_raw(
        any_engine, raw, source=name, policy=POLICY, now=NOW, intake=INTAKE, envelope=[token]
    )
    assert applied[Result.APPLIED] >= 1
    suppressed = [r for r in rows(any_engine, EntryRow) if r.state in {"blocked", "blacklisted"}]
    assert suppressed and all(r.address == recipient.lower() for r in suppressed)
    assert {r.organization for r in suppressed if r.scope != "global"} <= {"org-7"}


def test_malformed_arf_and_truncated_mime_are_dead_lettered(any_engine: Engine) -> None:
    truncated = (FIXTURES / "dsn_postfix_org_list.eml").read_bytes()[:120]
    for raw in (BROKEN_ARF, truncated):
        assert ingest.ingest_raw(any_engine, raw, source="t", policy=POLICY, now=NOW) == {
            Result.DEAD_LETTERED: 1
        }
    letters = rows(any_engine, DeadLetterRow)
    assert [(d.kind, d.payload) for d in letters] == [("raw", BROKEN_ARF), ("raw", truncated)]
    assert all(d.reason for d in letters)


def test_vacation_reply_is_ignored_not_dead_lettered(any_engine: Engine) -> None:
    raw = (FIXTURES / "vacation_autoreply.eml").read_bytes()
    assert ingest.ingest_raw(any_engine, raw, source="t", policy=POLICY, now=NOW) == {
        Result.IGNORED: 1
    }
    assert rows(any_engine, DeadLetterRow) == [] and rows(any_engine, EntryRow) == []
