"""POST /v1/events on the real server: a producer key names the organization its events
apply to; no key is 401, another organization is 403, a bad event 422, nothing queued."""

from __future__ import annotations

import os

import httpx
import pytest
import redis
from sqlalchemy import Engine, text

from bounce_worker import credentials
from bounce_worker.clock import utcnow
from tests.conftest import Worker, set_env, wait_until
from tests.integration.http_server import Server


def event(n: int, kind: str = "complaint", **extra: object) -> dict[str, object]:
    return {"event_id": f"prod-{n}", "type": kind, "recipient": f"p{n}@example.org",
            "occurred_at": "2026-11-30T10:00:00Z", **extra}  # fmt: skip


def test_producer_key_attributes_its_events(worker_env: Engine) -> None:
    acme = credentials.create(worker_env, role="producer", organization="acme", name="mta-1",
                              now=utcnow()).key  # fmt: skip
    platform = credentials.create(worker_env, role="producer", organization=None, name="mta-0",
                                  now=utcnow()).key  # fmt: skip
    queue = redis.Redis.from_url(os.environ["BOUNCE_WORKER_BROKER_URL"])
    server = Server().start()
    try:
        url = f"{server.url}/v1/events"
        assert httpx.post(url, json=event(1)).status_code == 401
        bearer = {"Authorization": f"Bearer {acme}"}
        other = httpx.post(url, json=event(2, organization="globex"), headers=bearer)
        assert other.status_code == 403 and "acme" in other.json()["error"]
        bad = httpx.post(url, json=[event(3), {"event_id": "x", "type": "bounce"}], headers=bearer)
        assert bad.status_code == 422 and bad.json()["error"].startswith("event 2:")
        assert queue.llen(os.environ["BOUNCE_WORKER_QUEUE"]) == 0

        one = httpx.post(url, json=event(4), headers=bearer)  # no organization: the key's
        assert one.status_code == 202 and one.json()["queued"] == 1
        many = httpx.post(url, json=[event(5, "unsubscribe"), event(6, organization="acme")],
                          headers=bearer)  # fmt: skip
        assert many.status_code == 202 and many.json()["queued"] == 2
        wide = {"Authorization": f"Bearer {platform}"}
        hard = event(7, "bounce", status="5.1.1", smtp_code=550)
        assert httpx.post(url, json=[hard, event(8)], headers=wide).status_code == 202
    finally:
        server.stop()
    worker = Worker().start()
    try:

        def entries() -> set[tuple[object, ...]]:
            with worker_env.connect() as conn:
                return {tuple(r) for r in conn.execute(text(
                    "SELECT address, scope, organization, state FROM entries"))}  # fmt: skip

        wait_until(lambda: len(entries()) == 5, timeout=60)
        assert entries() == {
            ("p4@example.org", "organization", "acme", "blocked"),
            ("p5@example.org", "organization", "acme", "blacklisted"),
            ("p6@example.org", "organization", "acme", "blocked"),
            ("p7@example.org", "global", "", "blocked"),  # a mailbox fact: global
            ("p8@example.org", "global", "", "active"),  # a complaint from nobody: unattributed
        }
    finally:
        worker.stop()


def test_a_big_array_is_queued_in_batch_size_messages(
    worker_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One message is one transaction with one advisory lock per key: an array of 20,000
    # events in one message overflowed PostgreSQL's lock table and was retried forever.
    set_env(monkeypatch, batch_size="2")
    key = credentials.create(worker_env, role="producer", organization="acme", name="mta-2",
                             now=utcnow()).key  # fmt: skip
    queue = redis.Redis.from_url(os.environ["BOUNCE_WORKER_BROKER_URL"])
    server = Server().start()
    try:
        answer = httpx.post(f"{server.url}/v1/events", json=[event(n) for n in range(5)],
                            headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        assert answer.status_code == 202, answer.text
        body = answer.json()
        assert body["queued"] == 5 and len(body["messages"]) == 3
        assert body["message"] == body["messages"][0]
        assert queue.llen(os.environ["BOUNCE_WORKER_QUEUE"]) == 3
    finally:
        server.stop()
    worker = Worker().start()
    try:

        def entries() -> int:
            with worker_env.connect() as conn:
                return int(conn.execute(text("SELECT count(*) FROM entries")).scalar_one())

        wait_until(lambda: entries() == 5, timeout=60)
    finally:
        worker.stop()
