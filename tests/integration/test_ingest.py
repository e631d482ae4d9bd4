"""Raw feedback through the whole pipeline: mails via `process`/`publish`, webhooks via the
ingest task on a real worker; whatever does not parse lands in the dead-letter table."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from celery import Celery
from sqlalchemy import Engine, select

from bounce_worker import api
from bounce_worker.store.models import DeadLetterRow, EntryRow
from bounce_worker.store.uow import UnitOfWork
from tests.conftest import Worker, run_cli, wait_until

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "emails-dev"
SENDGRID = [
    {
        "email": "gone@example.com",
        "timestamp": 1763805600,
        "event": "bounce",
        "sg_event_id": "sg-1",
        "reason": "550 5.1.1 The email account that you tried to reach does not exist",
        "status": "5.1.1",
        "type": "bounce",
    },
    {
        "email": "spam@example.com",
        "timestamp": 1763805600,
        "event": "spamreport",
        "sg_event_id": "sg-2",
    },
]


def rows(engine: Engine, model: type) -> list:  # type: ignore[type-arg]
    with UnitOfWork(engine) as uow:
        return list(uow.session.scalars(select(model)))


@pytest.fixture
def mailbox(tmp_path: Path) -> Path:
    """An mbox with a Postfix bounce (two recipients), an ARF report and a vacation reply."""
    path = tmp_path / "bounces.mbox"
    with path.open("wb") as out:
        for name in ("lhost-postfix-02.eml", "arf-01.eml", "rfc3834-01.eml"):
            out.write(
                b"From MAILER-DAEMON Mon Nov 23 10:00:00 2026\n"
                + (CORPUS / name).read_bytes()
                + b"\n"
            )
    return path


def test_process_reads_eml_and_mbox(
    any_engine: Engine, env: object, monkeypatch: pytest.MonkeyPatch, mailbox: Path, tmp_path: Path
) -> None:
    monkeypatch.setenv(
        "BOUNCE_WORKER_DATABASE_URL", str(any_engine.url.render_as_string(hide_password=False))
    )
    from bounce_worker.config import settings

    settings.cache_clear()
    bad = tmp_path / "bad.eml"
    bad.write_bytes(b"garbage\x00\xff not a mail")
    result = run_cli("process", str(mailbox), str(bad), str(CORPUS / "lhost-postfix-02.eml"))
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.strip() == "applied 3, duplicates 2, dead-lettered 1, ignored 1 auto-replies"
    )
    # Mails without a VERP token, from no trusted source: recorded with their evidence,
    # no state changed (SPEC 7).
    v = api.check("userunknown@example.co.jp", engine=any_engine)
    assert v.state == "active" and v.transitions[0]["reason"] == "unverified"
    assert "5.1.1" in (v.transitions[0]["diagnostic"] or "")
    complaint = api.check("redacted@example.net", engine=any_engine)
    assert complaint.state == "active" and complaint.transitions[0]["reason"] == "unverified"
    dead = rows(any_engine, DeadLetterRow)
    assert [(d.kind, d.source, d.payload) for d in dead] == [
        ("raw", str(bad), b"garbage\x00\xff not a mail")
    ]
    assert dead[0].reason == "no mail headers (not an RFC 5322 message)"


def test_worker_ingests_raw_mail_and_webhooks(
    worker: Worker, worker_env: Engine, mailbox: Path
) -> None:
    published = run_cli("publish", str(mailbox))
    assert published.returncode == 0, published.stderr
    app = Celery(broker=os.environ["BOUNCE_WORKER_BROKER_URL"])
    queue = os.environ["BOUNCE_WORKER_QUEUE"]
    app.send_task("bounce_worker.ingest_webhook", args=["sendgrid", SENDGRID], queue=queue)
    app.send_task("bounce_worker.ingest_webhook", args=["sendgrid", {"not": "events"}], queue=queue)
    app.send_task("bounce_worker.ingest_webhook", args=["mailchimp", []], queue=queue)
    app.send_task("bounce_worker.ingest_raw", args=["%%% not base64 %%%"], queue=queue)

    wait_until(
        lambda: len(rows(worker_env, EntryRow)) == 5 and len(rows(worker_env, DeadLetterRow)) == 3
    )
    states = {(r.address, r.state, r.reason) for r in rows(worker_env, EntryRow)}
    # The mails carry no VERP token: recorded only. The webhook (serve verified it before
    # publishing) blocks its hard bounce; its complaint names no organization: unattributed.
    assert states == {
        ("userunknown@example.co.jp", "active", None),
        ("filtered@example.co.jp", "active", None),
        ("redacted@example.net", "active", None),
        ("gone@example.com", "blocked", "hard_bounce"),
        ("spam@example.com", "active", None),
    }
    dead = sorted((d.kind, d.reason) for d in rows(worker_env, DeadLetterRow))
    assert [k for k, _ in dead] == ["raw", "webhook", "webhook"]
    assert all(reason for _, reason in dead)
    assert any("base64" in r for _, r in dead)
