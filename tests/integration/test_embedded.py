"""The embedded default (SQLite + kombu's SQLAlchemy transport): a real worker and beat,
no server at all. This is the README's first command."""

from __future__ import annotations

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
    home = Path(str(tmp_path / "home"))
    assert (home / "bounce-worker.sqlite3").exists() and (home / "broker.sqlite3").exists()


@pytest.mark.parametrize("broker", ["sqla+sqlite"])
def test_embedded_broker_is_serverless(broker: str, env: object) -> None:
    from bounce_worker.config import settings

    s = settings()
    assert s.broker_url.startswith(broker) and s.database_url.startswith("sqlite")
