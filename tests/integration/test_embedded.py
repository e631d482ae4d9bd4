"""The embedded default (SQLite + kombu's SQLAlchemy transport): a real worker and beat,
no server at all. This is the README's first command."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import run_cli


def test_demo_runs_a_real_worker_with_beat_and_prints_suppressions(
    env: object, tmp_path: Path
) -> None:
    result = run_cli("demo", timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "worker stored 17 events and 2 dead letters" in out
    # The story (issue 19): the missing event explained, no stray worker lines.
    assert (
        "the feed's 20 lines: 17 distinct events applied, 1 duplicate(s) of an event already "
        "in it (same event_id: changes nothing), 2 bad line(s) stored as dead letters"
    ) in out
    for stray in ("Warm shutdown", "superuser privileges", "WARNING/ForkPoolWorker"):
        assert stray not in out and stray not in result.stderr, stray
    for line in [
        ("nobody@example.org", "blocked", "hard_bounce"),
        ("angry@example.com", "blocked", "complaint"),
        ("bye@example.com", "blacklisted", "unsubscribe"),
        ("flaky@example.com", "blacklisted", "soft_bounce_limit"),
        ("full.box@example.net", "temporarily_blocked", "mailbox_full"),
        ("+4915112345678", "blocked", "hard_bounce"),
    ]:
        # Addresses compare case-insensitively; the spelling shown is whichever event came first.
        assert any(all(part in row.lower() for part in line) for row in out.splitlines()), line
    assert "leaving@example.com" not in out  # opted in again after unsubscribing
    assert "fine@example.com" not in out  # a policy rejection never suppresses
    # Dates relative to today (issue 19): no temporary block "until" a date already past.
    now = datetime.now(UTC)
    untils = [
        datetime.fromisoformat(found.replace("Z", "+00:00"))
        for found in re.findall(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", out)
    ]
    assert len(untils) == 1, out  # the mailbox-full block, the sample's one temporary block
    assert now < untils[0] < now + timedelta(days=1), untils
    status = json.loads(run_cli("status", "nobody@example.org", "--json").stdout)
    first = datetime.fromisoformat(status["transitions"][0]["occurred_at"].replace("Z", "+00:00"))
    assert now - timedelta(days=4) < first < now  # the sample's oldest story, days ago
    home = Path(str(tmp_path / "home"))
    assert (home / "bounce-worker.sqlite3").exists() and (home / "broker.sqlite3").exists()


def test_demo_json_tells_the_same_story(env: object) -> None:
    result = run_cli("demo", "--json", timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    story = json.loads(result.stdout)
    assert (story["lines"], story["applied"], story["duplicates"], story["dead_letters"]) == (
        20, 17, 1, 2,
    )  # fmt: skip
    assert story["stored_before"] == 0
    rows = {(r["address"].lower(), r["state"]) for r in story["suppressions"]}
    assert ("full.box@example.net", "temporarily_blocked") in rows and len(rows) == 6
    # Run again on the same database: it says the events were there already.
    again = run_cli("demo", timeout=180)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "worker stored 17 events and 2 dead letters" in again.stdout
    assert "17 distinct events applied (17 of them stored by an earlier run already: a " \
           "replay changes nothing)" in again.stdout  # fmt: skip


@pytest.mark.parametrize("broker", ["sqla+sqlite"])
def test_embedded_broker_is_serverless(broker: str, env: object) -> None:
    from bounce_worker.config import settings

    s = settings()
    assert s.broker_url.startswith(broker) and s.database_url.startswith("sqlite")
