"""Erasure that erases (issue 14): an email address and a phone number are put in every place
bounce-worker stores or logs something, through a real worker on Redis and PostgreSQL, then
forgotten; every table is scanned (dead letters decoded: JSON escapes, base64,
quoted-printable, RFC 2047, IDNA), and so are the worker's log and the task events Flower
records: no form of either is left anywhere. They stay suppressed, and a command that needs
the secret key refuses to run without it."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import uuid
from typing import Any

import kombu
import pytest
from sqlalchemy import Engine, select

from bounce_worker import erasure
from bounce_worker.store.models import Base
from bounce_worker.store.uow import UnitOfWork
from tests.conftest import Worker, run_cli, set_env, wait_until

SECRET = "erasure-test-secret-of-32-bytes-or-more"
ADDRESS = "Victim.Person@xn--bcher-kva.example"  # bücher.example
UNICODE = "victim.person@bücher.example"
PHONE = "+15550001234"
OCCURRED = "2026-11-20T10:00:00Z"


def task(name: str, args: list[Any]) -> tuple[dict[str, Any], bytes]:
    task_id = str(uuid.uuid4())
    headers = {"lang": "py", "task": name, "id": task_id, "root_id": task_id, "retries": 0,
               "timelimit": [None, None], "eta": None, "expires": None,
               "argsrepr": repr(args)}  # fmt: skip
    body = json.dumps([args, {}, {"callbacks": None, "errbacks": None}])
    return headers, body.encode()


def raw_mail(text: str) -> str:
    return base64.b64encode(text.replace("\n", "\r\n").encode()).decode()


def messages() -> list[tuple[dict[str, Any], bytes]]:
    """Every way the address and the number reach storage and logs."""
    out = [
        # An event whose id and diagnostic carry the address (the Unicode domain in the text).
        task(
            "bounce_worker.process_event",
            [
                {
                    "event_id": f"esp:{ADDRESS}:1",
                    "type": "bounce",
                    "recipient": ADDRESS,
                    "status": "5.1.1",
                    "occurred_at": OCCURRED,
                    "diagnostic": f"550 5.1.1 <{UNICODE}>: user unknown",
                }
            ],
        ),
        # An SMS report whose id and diagnostic carry the number, without its "+".
        task(
            "bounce_worker.process_event",
            [
                {
                    "event_id": f"twilio:{PHONE}:SM1",
                    "type": "bounce",
                    "channel": "sms",
                    "recipient": PHONE,
                    "status": "5.1.1",
                    "occurred_at": OCCURRED,
                    "diagnostic": f"30005 unknown destination handset {PHONE[1:]}",
                }
            ],
        ),
        # A dead letter holding the address JSON-escaped (\u0040 and \u00fc).
        task(
            "bounce_worker.process_event",
            [
                '{"event_id": "e1", "type": "bounce", "recipient": '
                '"victim.person\\u0040b\\u00fccher.example", "occurred_at": "yesterday"}'
            ],
        ),
        # Raw mails that are no bounce: the address base64-encoded in a part, in an RFC 2047
        # subject, quoted-printable across a soft line break.
        task(
            "bounce_worker.ingest_raw",
            [
                raw_mail(
                    "From: friend@example.net\nSubject: hello\nContent-Type: text/plain\n"
                    "Content-Transfer-Encoding: base64\n\n"
                    + base64.encodebytes(f"please write to {ADDRESS} soon".encode()).decode()
                )
            ],
        ),
        task(
            "bounce_worker.ingest_raw",
            [
                raw_mail(
                    "From: friend@example.net\n"
                    "Subject: =?utf-8?q?Victim=2EPerson=40b=C3=BCcher=2Eexample?= says hi\n\nhello\n"
                )
            ],
        ),
        task(
            "bounce_worker.ingest_raw",
            [
                raw_mail(
                    "From: friend@example.net\nSubject: hi\nContent-Transfer-Encoding: quoted-printable"
                    "\n\nwrite to Victim.Per=\nson=40xn--bcher-kva.example and =2B1555000=\n1234\n"
                )
            ],
        ),
    ]
    # A malformed task message (two arguments for one): kept whole by the poison guard, the
    # address inside base64 inside its JSON body.
    hidden = base64.b64encode(json.dumps({"to": ADDRESS, "sms": PHONE}).encode()).decode()
    out.append(task("bounce_worker.process_event", [hidden, "extra"]))
    return out


class EventLog:
    """The task events a Flower would record, captured from the broker."""

    def __init__(self, url: str) -> None:
        from celery import Celery

        self.app = Celery(broker=url)
        self.events: list[dict[str, Any]] = []
        self.ready = threading.Event()
        self.receiver: Any = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(30), "event receiver not ready"

    def _run(self) -> None:
        with self.app.connection_for_read() as conn:
            self.receiver = self.app.events.Receiver(conn, handlers={"*": self.events.append})
            self.ready.set()
            with contextlib.suppress(Exception):  # stopped
                self.receiver.capture(limit=None, timeout=None, wakeup=False)

    def stop(self) -> None:
        self.receiver.should_stop = True
        self.thread.join(10)


def forms() -> list[str]:
    return (
        erasure.needles("email", ADDRESS.lower())
        + erasure.needles("sms", PHONE)
        + [
            UNICODE,
            "victim.person",  # the local part alone, for good measure
        ]
    )


def scan_tables(engine: Engine) -> list[str]:
    """Every value of every table that holds any form of the address or the number."""
    found = []
    with UnitOfWork(engine) as uow:
        for table in Base.metadata.sorted_tables:
            for row in uow.session.execute(select(table)):
                for column, value in zip(table.columns, row, strict=True):
                    if value is None:
                        continue
                    data = bytes(value) if isinstance(value, bytes | memoryview) else (
                        str(value).encode())  # fmt: skip
                    if erasure.holds(data, forms()):
                        found.append(f"{table.name}.{column.name}: {data[:120]!r}")
    return found


def test_forget_leaves_no_form_of_the_address_anywhere(
    worker_env: Engine, monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    set_env(monkeypatch, secret_key=SECRET, log_format="json")
    events = EventLog(redis_url)
    worker = Worker(concurrency=1).start()
    try:
        queue = __import__("os").environ["BOUNCE_WORKER_QUEUE"]
        with kombu.Connection(redis_url) as conn:
            producer = conn.Producer(routing_key=queue)
            for headers, body in messages():
                producer.publish(body, headers=headers, content_type="application/json",
                                 content_encoding="utf-8", serializer=None)  # fmt: skip
        before = scan_tables(worker_env)
        wait_until(lambda: len(scan_tables(worker_env)) >= 12, timeout=90)
        before = scan_tables(worker_env)
        wait_until(lambda: any(e["type"] == "task-succeeded" for e in events.events), 30)
    finally:
        worker.stop()
        events.stop()
    # Everything is where the test means it to be before the erasure.
    where = {line.split(":")[0] for line in before}
    assert {"entries.display_address", "transitions.event_id", "transitions.diagnostic",
            "processed_events.event_id", "processed_events.payload",
            "dead_letters.payload"} <= where, before  # fmt: skip

    for who in (ADDRESS.upper(), PHONE):
        out = run_cli("forget", who, "--actor", "dpo")
        assert out.returncode == 0, out.stderr

    assert scan_tables(worker_env) == []
    log = worker.log.read_text(errors="replace").lower()
    assert "bounce_worker.transitions" in log  # the transitions were logged...
    assert [f for f in forms() if f in log] == []  # ...without the address
    received = [e for e in events.events if e["type"] == "task-received"]
    assert len(received) >= 6 and {e.get("args") for e in received} == {"(redacted)"}
    # Still suppressed, under the keyed hash.
    status = run_cli("status", UNICODE)
    assert status.returncode == 0 and "blocked" in status.stdout, status.stdout + status.stderr
    # Without the key, a command that needs it refuses, in one line.
    monkeypatch.delenv("BOUNCE_WORKER_SECRET_KEY")
    set_env(monkeypatch, log_format="text")
    refused = run_cli("status", ADDRESS)
    assert refused.returncode != 0
    assert refused.stderr.strip().count("\n") == 0
    assert "BOUNCE_WORKER_SECRET_KEY is not set" in refused.stderr
