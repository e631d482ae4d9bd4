"""The classifier's fine reason (docs/classification.md), stored by the one event writer on
the bounce's history row and shown where people look: a 5.1.1 bounce applied by a real
worker into PostgreSQL ends as `user_unknown` in `status --json`, the /v1 contact card, the
console's history, the CSV export and `stats`; through `process` on SQLite too. Other
feedback (a complaint) has no reason."""

from __future__ import annotations

import csv
import io
import json
import uuid
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bounce_worker import api
from tests.conftest import Worker, run_cli, set_env, wait_until
from tests.integration.api_support import client, make_key
from tests.integration.http_server import Server
from tests.integration.test_console_http import signed_in

GONE, ANGRY = "gone.user@example.org", "angry.reader@example.org"


def _feed(tmp: Path) -> Path:
    tag = uuid.uuid4().hex[:8]
    events = [
        {
            "event_id": f"b-{tag}", "type": "bounce", "recipient": GONE,
            "organization": "acme", "occurred_at": "2026-12-01T10:00:00Z",
            "status": "5.1.1", "smtp_code": 550,
            "diagnostic": "550 5.1.1 <gone.user@example.org>: Recipient address rejected: "
            "User unknown in virtual mailbox table",
        },
        {
            "event_id": f"c-{tag}", "type": "complaint", "recipient": ANGRY,
            "organization": "acme", "occurred_at": "2026-12-01T10:01:00Z",
        },
    ]  # fmt: skip
    path = tmp / f"events-{tag}.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def _status(address: str) -> dict:
    done = run_cli("status", "--json", address, "--organization", "acme")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def _export(tmp: Path) -> dict[str, dict[str, str]]:
    out = tmp / f"export-{uuid.uuid4().hex[:6]}.csv"
    done = run_cli("export", "--output", str(out))
    assert done.returncode == 0, done.stderr
    return {r["address"]: r for r in csv.DictReader(io.StringIO(out.read_text()))}


def _assert_shown(tmp: Path) -> None:
    """status --json, the export and stats --json, as an operator runs them."""
    gone = _status(GONE)
    assert (gone["state"], gone["reason"]) == ("blocked", "hard_bounce")
    assert [(t["reason"], t["detail"]) for t in gone["transitions"]] == [
        ("hard_bounce", "user_unknown")
    ]
    angry = _status(ANGRY)
    assert [(t["reason"], t["detail"]) for t in angry["transitions"]] == [("complaint", None)]
    table = run_cli("status", GONE, "--organization", "acme")
    assert table.returncode == 0 and "user_unknown" in table.stdout, table.stdout

    rows = _export(tmp)
    assert (rows[GONE]["reason"], rows[GONE]["last_detail"]) == ("hard_bounce", "user_unknown")
    assert (rows[ANGRY]["reason"], rows[ANGRY]["last_detail"]) == ("complaint", "")

    stats = run_cli("stats", "--json")
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["bounce_reasons"] == {
        "user_unknown": {"category": "hard_bounce", "total": 1, "last_24h": 1}
    }
    shown = run_cli("stats")
    assert shown.returncode == 0 and "user_unknown" in shown.stdout, shown.stdout


def test_a_5_1_1_bounce_shows_user_unknown_through_the_worker_and_postgresql(
    worker_env: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    set_env(
        monkeypatch,
        console_secret="test-console-secret-of-32-bytes-or-more",
        secret_key="test-secret-of-32-bytes-or-more-long",
    )
    assert run_cli("db", "upgrade").returncode == 0
    worker = Worker().start()
    server = Server().start()
    try:
        done = run_cli("publish", str(_feed(tmp_path)))
        assert done.returncode == 0, done.stderr
        wait_until(
            lambda: (
                len(api.history(GONE, engine=worker_env)) == 1
                and len(api.history(ANGRY, engine=worker_env)) == 1
            )
        )
        _assert_shown(tmp_path)

        support = make_key("support", name="support-reason")
        with client(server.url, support) as http:
            card = http.get(f"/v1/contacts/{GONE}")
            assert card.status_code == 200, card.text
            assert [(t["reason"], t["detail"]) for t in card.json()["transitions"]] == [
                ("hard_bounce", "user_unknown")
            ]
        page, _ = signed_in(server.url, support)
        with closing(page):
            html = page.get("/console/search", params={"q": GONE}).text
            assert '<span class="detail"' in html and "user_unknown" in html
    finally:
        server.stop()
        worker.stop()


def test_a_5_1_1_bounce_shows_user_unknown_through_process_on_sqlite(
    env: object, monkeypatch: pytest.MonkeyPatch, sqlite_url: str, tmp_path: Path
) -> None:
    set_env(monkeypatch, database_url=sqlite_url, secret_key="test-secret-of-32-bytes-or-more-long")
    done = run_cli("process", str(_feed(tmp_path)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "applied 2, duplicates 0, dead-lettered 0"
    _assert_shown(tmp_path)
